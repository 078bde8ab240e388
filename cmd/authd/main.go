// Command authd is the authd authentication service: `authd` (or `authd
// serve`) serves; `authd migrate`, `authd user create`, `authd keys
// generate`, `authd healthcheck` and `authd version` are the operator's tools.
//
// The command line is built with spf13/cobra: the de-facto standard for Go
// CLIs, with sub-commands, flags, help and completion, and settable
// arguments and output so that tests drive it through run.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "authd: %v\n", err)
		os.Exit(1)
	}
}

// run is the whole program with the OS passed in: tests call it with their
// own arguments, environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := rootCommand(ctx, getenv, stdin, stdout, stderr)
	if len(args) > 1 {
		cmd.SetArgs(args[1:])
	} else {
		cmd.SetArgs([]string{"serve"})
	}
	return cmd.ExecuteContext(ctx)
}
