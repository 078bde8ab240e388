package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ServerKey is a secret shared by every instance on one database.
type ServerKey struct {
	Name      string `gorm:"primaryKey"`
	Secret    []byte
	CreatedAt time.Time
}

// EnsureServerKey stores candidate under name unless a key of that name
// exists, and returns the stored key. Instances starting at once all end up
// with the same key.
func EnsureServerKey(ctx context.Context, tx *gorm.DB, name string, candidate []byte, now time.Time) ([]byte, error) {
	row := ServerKey{Name: name, Secret: candidate, CreatedAt: now}
	if err := tx.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
		return nil, fmt.Errorf("create server key: %w", translate(err))
	}
	var got ServerKey
	if err := tx.WithContext(ctx).Where("name = ?", name).Take(&got).Error; err != nil {
		return nil, fmt.Errorf("read server key: %w", translate(err))
	}
	return got.Secret, nil
}
