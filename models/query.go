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

// listOldest returns the rows of type T where cond holds (every row for an
// empty cond), oldest first; what names the kind of row in the error.
func listOldest[T any](ctx context.Context, tx *gorm.DB, what, cond string, args ...any) ([]T, error) {
	q := tx.WithContext(ctx)
	if cond != "" {
		q = q.Where(cond, args...)
	}
	return find[T](q.Order("created_at, id"), "list "+what)
}

// find returns the rows of type T that q selects; what names the step in
// the error.
func find[T any](q *gorm.DB, what string) ([]T, error) {
	var out []T
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("%s: %w", what, translate(err))
	}
	return out, nil
}
