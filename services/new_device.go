package services

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
	"github.com/authd/authd/services/device"
)

// newDeviceFinding says why a sign-in counts as one from a new device.
type newDeviceFinding struct {
	newAgent, newNetwork bool
}

func (f newDeviceFinding) found() bool { return f.newAgent || f.newNetwork }

// maxKnownDevices bounds the rows a sign-in compares itself with.
const maxKnownDevices = 200

// newDevice applies the new-device rule to a password sign-in of user (in
// its transaction, before its session exists). A sign-in is from a new
// device when
//
//   - it presents no live device token of the user, and
//   - the user signed in before (the first sign-in of an account alerts
//     nobody), and
//   - its user-agent family (browser and operating system, as the devices
//     page names them) or its IP prefix (/24 or /48) is not among those of
//     the user's sign-ins (login_succeeded events) and sessions used in the
//     last NewDeviceWindow (default 90 days).
func (s *Sessions) newDevice(ctx context.Context, tx *gorm.DB, user uuid.UUID, info device.Info, known bool, meta Meta, now time.Time) (newDeviceFinding, error) {
	if known || s.cfg.NewDeviceWindow <= 0 {
		return newDeviceFinding{}, nil
	}
	var before int64
	if err := tx.WithContext(ctx).Model(&models.SecurityEvent{}).
		Where("user_id = ? AND type = ?", user, models.EventLoginSucceeded).Limit(1).Count(&before).Error; err != nil {
		return newDeviceFinding{}, fmt.Errorf("new device: %w", err)
	}
	if before == 0 {
		return newDeviceFinding{}, nil
	}
	since := now.Add(-s.cfg.NewDeviceWindow)
	family := info.Browser + "/" + info.OS
	agentSeen, networkSeen := false, false
	var sessions []models.Session
	if err := tx.WithContext(ctx).Select("browser", "os", "ip_prefix").
		Where("user_id = ? AND last_used_at >= ?", user, since).
		Order("last_used_at DESC").Limit(maxKnownDevices).Find(&sessions).Error; err != nil {
		return newDeviceFinding{}, fmt.Errorf("new device: %w", err)
	}
	for _, x := range sessions {
		agentSeen = agentSeen || x.Browser+"/"+x.OS == family
		networkSeen = networkSeen || x.IPPrefix == meta.IPPrefix
	}
	if !agentSeen || !networkSeen {
		// Sessions are pruned after they end; the sign-ins are kept.
		var rows []struct {
			UserAgent string
			IPPrefix  string `gorm:"column:ip_prefix"`
		}
		if err := tx.WithContext(ctx).Model(&models.SecurityEvent{}).Distinct("user_agent", "ip_prefix").
			Where("user_id = ? AND type = ? AND created_at >= ?", user, models.EventLoginSucceeded, since).
			Limit(maxKnownDevices).Scan(&rows).Error; err != nil {
			return newDeviceFinding{}, fmt.Errorf("new device: %w", err)
		}
		for _, r := range rows {
			networkSeen = networkSeen || r.IPPrefix == meta.IPPrefix
			if !agentSeen {
				d := device.Parse(r.UserAgent)
				agentSeen = d.Browser+"/"+d.OS == family
			}
		}
	}
	return newDeviceFinding{newAgent: !agentSeen, newNetwork: !networkSeen}, nil
}

// recordNewDevice records new_device_login for the new session when f
// found a new device.
func (s *Sessions) recordNewDevice(ctx context.Context, tx *gorm.DB, f newDeviceFinding, sess *models.Session) error {
	if !f.found() {
		return nil
	}
	var why []string
	if f.newAgent {
		why = append(why, "user_agent")
	}
	if f.newNetwork {
		why = append(why, "ip_prefix")
	}
	uid, sid := sess.UserID, sess.ID
	return s.events.Record(ctx, tx, &models.SecurityEvent{Type: EventNewDeviceLogin, UserID: &uid, SessionID: &sid,
		IPPrefix: sess.IPPrefix, UserAgent: sess.UserAgent,
		Details: jsonObject("device", sess.DeviceName, "browser", sess.Browser, "os", sess.OS, "new", why)})
}
