package models

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SSFReceiver is a Shared Signals receiver an admin let in. It
// authenticates with a bearer token of which only SHA-256 is stored.
type SSFReceiver struct {
	ID          uuid.UUID `gorm:"type:uuid;primaryKey"`
	Description string
	Audience    string
	TokenHash   []byte
	CreatedBy   *uuid.UUID `gorm:"type:uuid"`
	CreatedAt   time.Time
}

// The delivery methods of a stream, and its statuses (SSF 1.0 §8.1.2).
const (
	SSFDeliveryPush = "push"
	SSFDeliveryPoll = "poll"

	SSFStatusEnabled  = "enabled"
	SSFStatusPaused   = "paused"
	SSFStatusDisabled = "disabled"
)

// SSFStream is one event stream of a receiver. EventsRequested is a JSON
// array of event type URIs.
type SSFStream struct {
	ID                  uuid.UUID `gorm:"type:uuid;primaryKey"`
	ReceiverID          uuid.UUID `gorm:"type:uuid"`
	Description         string
	EventsRequested     string
	DeliveryMethod      string
	EndpointURL         string
	AuthorizationHeader string
	SubjectFormat       string
	Status              string
	StatusReason        string
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// SSFPollSET is a SET waiting on a poll stream until the receiver
// acknowledges it.
type SSFPollSET struct {
	StreamID  uuid.UUID `gorm:"type:uuid;primaryKey"`
	JTI       string    `gorm:"column:jti;primaryKey"`
	SetJWT    string    `gorm:"column:set_jwt"`
	CreatedAt time.Time
}

// TableName is ssf_poll_sets.
func (SSFPollSET) TableName() string { return "ssf_poll_sets" }

// CreateSSFReceiver inserts r.
func CreateSSFReceiver(ctx context.Context, tx *gorm.DB, r *SSFReceiver) error {
	return create(ctx, tx, "ssf receiver", r)
}

// FindSSFReceiverByTokenHash returns the receiver of a token, or ErrNotFound.
func FindSSFReceiverByTokenHash(ctx context.Context, tx *gorm.DB, hash []byte) (*SSFReceiver, error) {
	return take[SSFReceiver](ctx, tx, "token_hash = ?", hash)
}

// ListSSFReceivers returns every receiver, oldest first.
func ListSSFReceivers(ctx context.Context, tx *gorm.DB) ([]SSFReceiver, error) {
	return listOldest[SSFReceiver](ctx, tx, "ssf receivers", "")
}

// DeleteSSFReceiver deletes a receiver with its streams and their waiting
// SETs, and reports whether it existed.
func DeleteSSFReceiver(ctx context.Context, tx *gorm.DB, id uuid.UUID) (bool, error) {
	db := tx.WithContext(ctx)
	if err := db.Exec(`DELETE FROM ssf_poll_sets WHERE stream_id IN (SELECT id FROM ssf_streams WHERE receiver_id = ?)`, id).Error; err != nil {
		return false, fmt.Errorf("delete ssf receiver sets: %w", translate(err))
	}
	if err := db.Where("receiver_id = ?", id).Delete(&SSFStream{}).Error; err != nil {
		return false, fmt.Errorf("delete ssf receiver streams: %w", translate(err))
	}
	res := db.Where("id = ?", id).Delete(&SSFReceiver{})
	if res.Error != nil {
		return false, fmt.Errorf("delete ssf receiver: %w", translate(res.Error))
	}
	return res.RowsAffected > 0, nil
}

// CreateSSFStream inserts s.
func CreateSSFStream(ctx context.Context, tx *gorm.DB, s *SSFStream) error {
	return create(ctx, tx, "ssf stream", s)
}

// SaveSSFStream writes every field of s.
func SaveSSFStream(ctx context.Context, tx *gorm.DB, s *SSFStream) error {
	if err := tx.WithContext(ctx).Save(s).Error; err != nil {
		return fmt.Errorf("save ssf stream: %w", translate(err))
	}
	return nil
}

// FindSSFStream returns a stream of the receiver, or ErrNotFound (also for
// another receiver's stream).
func FindSSFStream(ctx context.Context, tx *gorm.DB, receiverID, id uuid.UUID) (*SSFStream, error) {
	return take[SSFStream](ctx, tx, "id = ? AND receiver_id = ?", id, receiverID)
}

// FindSSFStreamByID returns a stream whoever owns it, or ErrNotFound.
func FindSSFStreamByID(ctx context.Context, tx *gorm.DB, id uuid.UUID) (*SSFStream, error) {
	return take[SSFStream](ctx, tx, "id = ?", id)
}

// ListSSFStreams returns the receiver's streams, oldest first.
func ListSSFStreams(ctx context.Context, tx *gorm.DB, receiverID uuid.UUID) ([]SSFStream, error) {
	return listOldest[SSFStream](ctx, tx, "ssf streams", "receiver_id = ?", receiverID)
}

// DeliveringSSFStreams returns the streams that take events now: enabled
// ones and paused ones (which hold their events until resumed), with the
// audience of their receiver.
func DeliveringSSFStreams(ctx context.Context, tx *gorm.DB) ([]SSFStreamTarget, error) {
	var out []SSFStreamTarget
	err := tx.WithContext(ctx).Table("ssf_streams").
		Select("ssf_streams.*, ssf_receivers.audience AS audience").
		Joins("JOIN ssf_receivers ON ssf_receivers.id = ssf_streams.receiver_id").
		Where("ssf_streams.status IN ?", []string{SSFStatusEnabled, SSFStatusPaused}).
		Order("ssf_streams.created_at, ssf_streams.id").
		Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("ssf streams: %w", translate(err))
	}
	return out, nil
}

// SSFStreamTarget is a stream with its receiver's audience.
type SSFStreamTarget struct {
	SSFStream
	Audience string
}

// DeleteSSFStream deletes a stream of the receiver with its waiting SETs
// and reports whether it existed.
func DeleteSSFStream(ctx context.Context, tx *gorm.DB, receiverID, id uuid.UUID) (bool, error) {
	db := tx.WithContext(ctx)
	res := db.Where("id = ? AND receiver_id = ?", id, receiverID).Delete(&SSFStream{})
	if res.Error != nil {
		return false, fmt.Errorf("delete ssf stream: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	if err := db.Where("stream_id = ?", id).Delete(&SSFPollSET{}).Error; err != nil {
		return false, fmt.Errorf("delete ssf stream sets: %w", translate(err))
	}
	return true, nil
}

// InsertSSFPollSET queues a SET on a poll stream. A SET already queued
// (same jti) is kept as it is.
func InsertSSFPollSET(ctx context.Context, tx *gorm.DB, s *SSFPollSET) error {
	if err := tx.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(s).Error; err != nil {
		return fmt.Errorf("queue ssf set: %w", translate(err))
	}
	return nil
}

// AckSSFPollSETs removes the acknowledged SETs of a stream.
func AckSSFPollSETs(ctx context.Context, tx *gorm.DB, streamID uuid.UUID, jtis []string) error {
	if len(jtis) == 0 {
		return nil
	}
	if err := tx.WithContext(ctx).Where("stream_id = ? AND jti IN ?", streamID, jtis).Delete(&SSFPollSET{}).Error; err != nil {
		return fmt.Errorf("ack ssf sets: %w", translate(err))
	}
	return nil
}

// PendingSSFPollSETs returns up to limit waiting SETs of a stream, oldest
// first.
func PendingSSFPollSETs(ctx context.Context, tx *gorm.DB, streamID uuid.UUID, limit int) ([]SSFPollSET, error) {
	q := tx.WithContext(ctx).Where("stream_id = ?", streamID).Order("created_at, jti").Limit(limit)
	return find[SSFPollSET](q, "pending ssf sets")
}
