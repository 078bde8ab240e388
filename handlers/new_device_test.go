package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/testutil"
)

// A sign-in without a device token from a user-agent family the account
// has not used records new_device_login: it shows in the user's own
// activity, is pushed to a subscribed webhook and mailed (SMTP, through the
// outbox) with the device, the time, the IP prefix and a link to /account.
// The account's first sign-in, a sign-in from a known family and network,
// and a sign-in with a live device token alert nobody.
func TestNewDeviceLogin_EventWebhookAndMail(t *testing.T) {
	sink := testutil.NewSMTPSink(t)
	env := map[string]string{
		"AUTHD_SMTP_URL": "smtp://" + sink.Addr, "AUTHD_SMTP_FROM": "authd@example.com",
		"AUTHD_PUBLIC_URL": "https://auth.example.com",
	}
	for k, v := range webhookEnv {
		env[k] = v
	}
	apitest.Each(t, apitest.Options{Env: env}, func(t *testing.T, s *apitest.Server) {
		recv := testutil.NewWebhookReceiver(t)
		_, admin := newAdmin(t, s)
		recv.SetSecrets(addWebhook(t, s, admin, recv.URL, "new_device_login").Secret)
		before := len(sink.Messages())

		email, first := s.NewUser(t, "traveller", apitest.UA(uaChromeWindows)) // the first sign-in
		s.LoginWith(t, email, nil, apitest.UA(uaChromeWindows))                // a known device
		known := s.LoginWith(t, email, map[string]any{"device_token": first.DeviceToken}, apitest.UA(uaSafariIPhone))
		if first.DeviceToken == "" || known.SessionID == "" {
			t.Fatal("no device token from the first sign-in")
		}
		fresh := s.LoginWith(t, email, nil, apitest.UA(uaFirefoxLinux)) // new: Firefox on Linux

		var own eventList
		s.Do(t, "GET", "/v1/me/security-events", nil, apitest.Bearer(fresh.AccessToken)).JSON(t, &own)
		var alerts []string
		for _, ev := range own.Events {
			if ev.Type == "new_device_login" {
				alerts = append(alerts, *ev.SessionID)
				if ev.Details["device"] == "" || ev.Details["browser"] != "Firefox" || ev.IPPrefix == "" {
					t.Errorf("new_device_login = %+v, want the device, its browser and the IP prefix", ev)
				}
			}
		}
		if len(alerts) != 1 || alerts[0] != fresh.SessionID {
			t.Fatalf("new_device_login for sessions %v, want only the Firefox one %s", alerts, fresh.SessionID)
		}

		recv.WaitFor(t, 20*time.Second, "the new_device_login webhook", func() bool { return len(recv.Messages()) == 1 })
		if m := recv.Messages()[0]; m.Type != "new_device_login" {
			t.Errorf("webhook type = %q", m.Type)
		}
		mails := sink.Wait(t, before+1, 20*time.Second)[before:]
		if len(mails) != 1 || len(mails[0].To) != 1 || mails[0].To[0] != email {
			t.Fatalf("mails = %+v, want one to %s", mails, email)
		}
		body := mails[0].Data
		for _, want := range []string{"Subject: New sign-in to your account", "Firefox", "Linux", "127.0.0.0/24",
			"https://auth.example.com/account", time.Now().UTC().Format("2 January 2006"), "text/plain"} {
			if !strings.Contains(body, want) {
				t.Errorf("the mail does not contain %q:\n%s", want, body)
			}
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(sink.Messages()) - before; n != 1 {
			t.Errorf("%d mails, want 1", n)
		}
	})
}
