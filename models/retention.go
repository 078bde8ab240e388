package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// retentionLockKey is the PostgreSQL advisory lock that lets one instance at
// a time run a retention batch ("authd.retention" as a 64-bit key).
const retentionLockKey int64 = 0x61757468642e7274

// TryRetentionLock takes the retention advisory lock for the rest of the
// transaction tx. It reports false when another instance holds it. SQLite
// has a single writer per file and needs no lock: it always reports true.
func TryRetentionLock(ctx context.Context, tx *gorm.DB) (bool, error) {
	if tx.Dialector.Name() != "postgres" {
		return true, nil
	}
	var ok bool
	if err := tx.WithContext(ctx).Raw("SELECT pg_try_advisory_xact_lock(?)", retentionLockKey).Scan(&ok).Error; err != nil {
		return false, fmt.Errorf("retention lock: %w", translate(err))
	}
	return ok, nil
}

// DeleteStaleSessions deletes up to limit sessions that ended before cutoff:
// revoked before it, past their absolute expiry before it, or idle since
// before idleCutoff (so every refresh token of theirs has expired). Their
// refresh tokens go with them (ON DELETE CASCADE). It returns how many
// sessions it deleted. Security events keep the ids: they are never deleted
// here.
func DeleteStaleSessions(ctx context.Context, tx *gorm.DB, cutoff, idleCutoff time.Time, limit int) (int64, error) {
	res := tx.WithContext(ctx).Exec(`DELETE FROM sessions WHERE id IN
		(SELECT id FROM sessions
		 WHERE (revoked_at IS NOT NULL AND revoked_at < ?) OR expires_at < ? OR last_used_at < ?
		 LIMIT ?)`, cutoff, cutoff, idleCutoff, limit)
	if res.Error != nil {
		return 0, fmt.Errorf("delete stale sessions: %w", translate(res.Error))
	}
	return res.RowsAffected, nil
}

// PurgeSecurityEvents deletes up to limit security events created before
// cutoff. It is the only deletion of events, for an operator who set an
// event retention: on PostgreSQL it lifts the append-only trigger for this
// transaction only (SET LOCAL authd.purge_events), so tx must be a
// transaction.
func PurgeSecurityEvents(ctx context.Context, tx *gorm.DB, cutoff time.Time, limit int) (int64, error) {
	if tx.Dialector.Name() == "postgres" {
		if err := tx.WithContext(ctx).Exec("SET LOCAL authd.purge_events = 'on'").Error; err != nil {
			return 0, fmt.Errorf("purge security events: %w", translate(err))
		}
	}
	res := tx.WithContext(ctx).Exec(`DELETE FROM security_events WHERE id IN
		(SELECT id FROM security_events WHERE created_at < ? LIMIT ?)`, cutoff, limit)
	if res.Error != nil {
		return 0, fmt.Errorf("purge security events: %w", translate(res.Error))
	}
	return res.RowsAffected, nil
}
