package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/migrations"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

func rootCommand(ctx context.Context, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "authd",
		Short:         "authd: sessions, rotating refresh tokens and JWT access tokens for apps on many devices",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)

	root.AddCommand(&cobra.Command{
		Use:   "serve",
		Short: "Migrate the database and serve HTTP (the default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(getenv)
			if err != nil {
				return err
			}
			return app.Serve(cmd.Context(), cfg, stdout, nil)
		},
	})

	migrate := &cobra.Command{Use: "migrate", Short: "Apply, roll back or list the schema migrations"}
	for _, sub := range []struct{ use, short string }{
		{"up", "Apply every pending migration"},
		{"down", "Roll back the most recent migration"},
		{"status", "List the migrations and whether each is applied"},
	} {
		migrate.AddCommand(&cobra.Command{
			Use: sub.use, Short: sub.short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return runMigrate(cmd.Context(), getenv, sub.use, stdout)
			},
		})
	}
	root.AddCommand(migrate)

	var email, role string
	var passwordStdin bool
	userCreate := &cobra.Command{
		Use:   "create",
		Short: "Create an account (the password is read from standard input)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !passwordStdin {
				return errors.New("pass --password-stdin and write the password to standard input (never on the command line)")
			}
			return createUser(cmd.Context(), getenv, email, role, stdin, stdout)
		},
	}
	userCreate.Flags().StringVar(&email, "email", "", "email address of the account")
	userCreate.Flags().StringVar(&role, "role", "user", "user or admin")
	userCreate.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	_ = userCreate.MarkFlagRequired("email")
	var setEmail, setRole string
	userSetRole := &cobra.Command{
		Use:   "set-role",
		Short: "Change an account's role; its live access tokens carry the new role on every instance within a second",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return setUserRole(cmd.Context(), getenv, setEmail, setRole, stdout)
		},
	}
	userSetRole.Flags().StringVar(&setEmail, "email", "", "email address of the account")
	userSetRole.Flags().StringVar(&setRole, "role", "", "user or admin")
	_ = userSetRole.MarkFlagRequired("email")
	_ = userSetRole.MarkFlagRequired("role")
	user := &cobra.Command{Use: "user", Short: "Manage accounts"}
	user.AddCommand(userCreate, userSetRole)
	root.AddCommand(user)

	root.AddCommand(webhookCommand(getenv, stdout))

	keys := &cobra.Command{Use: "keys", Short: "Manage signing keys"}
	keys.AddCommand(&cobra.Command{
		Use:   "generate",
		Short: "Print a new Ed25519 key pair as PEM (private key first) for AUTHD_JWT_ALG=EdDSA",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return generateKeys(stdout) },
	})
	root.AddCommand(keys)

	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date of this binary",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info, ok := debug.ReadBuildInfo()
			return printVersion(stdout, readVersion(info, ok))
		},
	})

	root.AddCommand(&cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the local server answers /readyz with 200 (for container health checks)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return healthcheck(cmd.Context(), getenv) },
	})
	return root
}

// loadConfig is the configuration every command works with.
func loadConfig(getenv func(string) string) (app.Config, error) {
	cfg, err := app.Load(getenv)
	if err != nil {
		return app.Config{}, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

// openDB opens the configured database as appName (its
// application_name), for the commands that work on the database without a
// whole instance; the caller closes it.
func openDB(getenv func(string) string, appName string) (app.Config, *models.DB, error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return cfg, nil, err
	}
	db, err := app.OpenDB(cfg, appName)
	return cfg, db, err
}

func runMigrate(ctx context.Context, getenv func(string) string, action string, out io.Writer) error {
	_, db, err := openDB(getenv, "authd-migrate")
	if err != nil {
		return err
	}
	defer db.Close()
	defer migrations.AllowMigrationConns(db.Dialect, db.SQL())()
	p, err := migrations.Provider(db.Dialect, db.SQL())
	if err != nil {
		return err
	}
	switch action {
	case "up":
		results, err := p.Up(ctx)
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		for _, r := range results {
			fmt.Fprintf(out, "applied %s\n", r.Source.Path)
		}
		if len(results) == 0 {
			fmt.Fprintln(out, "the schema is up to date")
		}
	case "down":
		r, err := p.Down(ctx)
		if err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
		fmt.Fprintf(out, "rolled back %s\n", r.Source.Path)
	case "status":
		statuses, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		for _, s := range statuses {
			applied := "pending"
			if !s.AppliedAt.IsZero() {
				applied = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(out, "%-40s %s\n", s.Source.Path, applied)
		}
	}
	return nil
}

// withApp runs fn on an instance wired exactly as `authd serve` wires one
// (database migrated, services, the revocation feed), without serving: a
// change made on the command line is published like any other.
func withApp(ctx context.Context, getenv func(string) string, fn func(*app.App) error) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, io.Discard, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}

// userError is what the command line prints for a service error: its
// sentence for the client, or the error itself.
func userError(err error) error {
	if d := services.ErrorDetail(err); d != "" {
		return errors.New(d)
	}
	return err
}

func createUser(ctx context.Context, getenv func(string) string, email, role string, stdin io.Reader, out io.Writer) error {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	// Only the line ending is removed: the password is used exactly as typed.
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if pw == "" {
		return errors.New("no password on standard input")
	}
	return withApp(ctx, getenv, func(a *app.App) error {
		u, err := a.Accounts().CreateUser(ctx, email, pw, role)
		if err != nil {
			return userError(err)
		}
		fmt.Fprintf(out, "created %s %s (%s)\n", u.Role, u.Email, u.ID)
		return nil
	})
}

func setUserRole(ctx context.Context, getenv func(string) string, email, role string, out io.Writer) error {
	return withApp(ctx, getenv, func(a *app.App) error {
		u, err := a.Admin().SetRoleByEmail(ctx, email, role)
		if err != nil {
			return userError(err)
		}
		fmt.Fprintf(out, "%s is now %s\n", u.Email, u.Role)
		return nil
	})
}

func generateKeys(out io.Writer) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	if err := pem.Encode(out, &pem.Block{Type: "PRIVATE KEY", Bytes: privDER}); err != nil {
		return err
	}
	return pem.Encode(out, &pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
}

// healthcheck asks the local server's /readyz. It reads only AUTHD_ADDR and
// the TLS settings: it must work where the full configuration would not.
func healthcheck(ctx context.Context, getenv func(string) string) error {
	addr := getenv("AUTHD_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("AUTHD_ADDR: %w", err)
	}
	scheme := "http"
	client := &http.Client{Timeout: 2 * time.Second}
	if getenv("AUTHD_TLS_CERT_FILE") != "" {
		scheme = "https"
		client.Transport = app.InsecureLoopbackTransport()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://127.0.0.1:"+port+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: /readyz answered %d", resp.StatusCode)
	}
	return nil
}
