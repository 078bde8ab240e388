package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/services"
)

// webhookCommand is `authd webhook add`: register a webhook endpoint from
// the command line, as POST /v1/admin/webhooks does (the operator at the
// console needs no admin token).
func webhookCommand(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var url, types, description string
	add := &cobra.Command{
		Use:   "add",
		Short: "Register a webhook endpoint and print its signing secret (shown once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return addWebhook(cmd.Context(), getenv, url, strings.Split(types, ","), description, stdout)
		},
	}
	add.Flags().StringVar(&url, "url", "", "https URL of the receiver")
	add.Flags().StringVar(&types, "event-types", "*", "comma-separated event types, or * for every type")
	add.Flags().StringVar(&description, "description", "", "what the endpoint is for")
	_ = add.MarkFlagRequired("url")
	wh := &cobra.Command{Use: "webhook", Short: "Manage webhook endpoints"}
	wh.AddCommand(add)
	return wh
}

func addWebhook(ctx context.Context, getenv func(string) string, url string, types []string, description string, out io.Writer) error {
	cfg, db, err := openDB(getenv, "authd-cli")
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	// The outbox without workers: the webhook_created event is queued for
	// the other endpoints like any event; the servers deliver it.
	_, webhooks, err := app.NewOutbox(ctx, cfg, db, db, services.NewEvents(services.SystemClock), nil, nil)
	if err != nil {
		return err
	}
	e, err := webhooks.Create(ctx, services.Principal{Fresh: true}, services.NewWebhook{
		URL: url, EventTypes: types, Description: description}, services.Meta{UserAgent: "authd-cli"})
	if err != nil {
		return userError(err)
	}
	fmt.Fprintf(out, "created webhook %s for %s (%s)\nsecret: %s\n", e.ID, e.URL, e.EventTypes, e.Secret)
	return nil
}
