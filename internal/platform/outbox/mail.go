package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/wneessen/go-mail"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// MailOptions configure the new-device e-mails.
type MailOptions struct {
	// URL is AUTHD_SMTP_URL: smtp://[user:password@]host[:port] (STARTTLS
	// when the server offers it) or smtps:// (TLS from the start).
	URL string
	// From is the sender address (AUTHD_SMTP_FROM).
	From string
	// PublicURL is where users reach authd (AUTHD_PUBLIC_URL); the mail
	// links to its /account page.
	PublicURL string
	// RetryBase is the first retry delay (default 5 s).
	RetryBase time.Duration
	// Timeout bounds one SMTP conversation.
	Timeout time.Duration
}

// Mail is the sink that tells users of sign-ins from new devices by e-mail.
// wneessen/go-mail was picked as the SMTP client: maintained, no
// dependencies outside the standard library, STARTTLS and SMTP AUTH
// (PLAIN, LOGIN, CRAM-MD5, SCRAM) with context support.
type Mail struct {
	db   *gorm.DB
	opts MailOptions
	url  *url.URL
}

// NewMail returns the mail sink.
func NewMail(db *gorm.DB, opts MailOptions) (*Mail, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		return nil, errors.New("AUTHD_SMTP_URL must be smtp:// or smtps://")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	return &Mail{db: db, opts: opts, url: u}, nil
}

// NewDeviceMailArgs is the job of one new-device e-mail.
type NewDeviceMailArgs struct {
	EventID   uuid.UUID `json:"event_id"`
	UserID    uuid.UUID `json:"user_id"`
	At        time.Time `json:"at"`
	IPPrefix  string    `json:"ip_prefix"`
	Device    string    `json:"device"`
	UserAgent string    `json:"user_agent"`
}

// Kind names new-device e-mail jobs.
func (NewDeviceMailArgs) Kind() string { return "new_device_email" }

// Register adds the mail worker.
func (m *Mail) Register(workers *river.Workers) error {
	return river.AddWorkerSafely(workers, &mailWorker{retrying: retrying[NewDeviceMailArgs]{base: m.opts.RetryBase}, m: m})
}

// Jobs returns an e-mail job for a new_device_login event.
func (m *Mail) Jobs(_ context.Context, _ *gorm.DB, ev *models.SecurityEvent) ([]river.InsertManyParams, error) {
	if ev.Type != services.EventNewDeviceLogin || ev.UserID == nil {
		return nil, nil
	}
	var details struct {
		Device string `json:"device"`
	}
	_ = json.Unmarshal([]byte(ev.Details), &details)
	return []river.InsertManyParams{{Args: NewDeviceMailArgs{EventID: ev.ID, UserID: *ev.UserID, At: ev.CreatedAt,
		IPPrefix: ev.IPPrefix, Device: details.Device, UserAgent: ev.UserAgent}}}, nil
}

type mailWorker struct {
	retrying[NewDeviceMailArgs]
	m *Mail
}

func (mw *mailWorker) Work(ctx context.Context, job *river.Job[NewDeviceMailArgs]) error {
	u, err := models.FindUserByID(ctx, mw.m.db, job.Args.UserID)
	if errors.Is(err, models.ErrNotFound) {
		return river.JobCancel(errors.New("the user is gone"))
	} else if err != nil {
		return err
	}
	msg, err := mw.m.Message(u.Email, job.Args)
	if err != nil {
		return river.JobCancel(err)
	}
	c, err := mw.m.client()
	if err != nil {
		return river.JobCancel(err)
	}
	return c.DialAndSendWithContext(ctx, msg)
}

// Text returns the plain-text body of the e-mail about a.
func (m *Mail) Text(a NewDeviceMailArgs) string {
	device := a.Device
	if device == "" {
		device = "an unknown device"
	}
	ip := a.IPPrefix
	if ip == "" {
		ip = "unknown"
	}
	account := strings.TrimRight(m.opts.PublicURL, "/") + "/account"
	return fmt.Sprintf(`Your account was just signed in to from a device it has not seen recently.

Device:  %s
Time:    %s
Network: %s (the address with its last part hidden)

If this was you, there is nothing to do.

If it was not you, open %s now: sign that device out, and change your password.
`, device, a.At.UTC().Format("Monday, 2 January 2006 15:04 MST"), ip, account)
}

// Message builds the e-mail about a to addr.
func (m *Mail) Message(addr string, a NewDeviceMailArgs) (*mail.Msg, error) {
	msg := mail.NewMsg()
	if err := msg.From(m.opts.From); err != nil {
		return nil, fmt.Errorf("AUTHD_SMTP_FROM: %w", err)
	}
	if err := msg.To(addr); err != nil {
		return nil, err
	}
	msg.Subject("New sign-in to your account")
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(mail.TypeTextPlain, m.Text(a))
	return msg, nil
}

func (m *Mail) client() (*mail.Client, error) {
	opts := []mail.Option{mail.WithTimeout(m.opts.Timeout), mail.WithTLSPolicy(mail.TLSOpportunistic)}
	if m.url.Scheme == "smtps" {
		opts = append(opts, mail.WithSSL())
	}
	if p := m.url.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("AUTHD_SMTP_URL port: %w", err)
		}
		opts = append(opts, mail.WithPort(n))
	}
	if m.url.User != nil {
		pw, _ := m.url.User.Password()
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(m.url.User.Username()), mail.WithPassword(pw))
	}
	return mail.NewClient(m.url.Hostname(), opts...)
}
