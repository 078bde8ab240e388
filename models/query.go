package models

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// create inserts row; what names the kind of row in the error.
func create[T any](ctx context.Context, tx *gorm.DB, what string, row *T) error {
	if err := tx.WithContext(ctx).Create(row).Error; err != nil {
		return fmt.Errorf("create %s: %w", what, translate(err))
	}
	return nil
}

// take returns the one row of type T where cond holds, or ErrNotFound.
func take[T any](ctx context.Context, tx *gorm.DB, cond string, args ...any) (*T, error) {
	var row T
	if err := tx.WithContext(ctx).Where(cond, args...).Take(&row).Error; err != nil {
		return nil, translate(err)
	}
	return &row, nil
}
