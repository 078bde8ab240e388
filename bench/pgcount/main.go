// Command pgcount is a PostgreSQL wire-protocol relay that counts the
// statements its clients send: simple queries ('Q' messages) and executions
// of the extended protocol ('E' messages; a Parse or Describe without an
// Execute runs nothing and is not counted). bench/run.sh puts it between a
// server under test and PostgreSQL for a short counting phase, so that
// statements per refresh are a measured count for any server, not a
// reading of its code. Loopback only; it exits after -lifetime.
//
//	pgcount -listen 127.0.0.1:0 -upstream 127.0.0.1:5432
//
// It prints {"msg":"listening","addr":...} once, and on SIGUSR1 the totals
// so far as one JSON line: {"queries":Q,"executes":E,"statements":Q+E,
// "connections":C}. TLS is not relayed: clients connect with
// sslmode=disable (an SSLRequest is answered by PostgreSQL with 'N').
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type counts struct {
	queries, executes, connections atomic.Int64
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to accept clients on (loopback only)")
	upstream := flag.String("upstream", "127.0.0.1:5432", "PostgreSQL address (loopback only)")
	lifetime := flag.Duration("lifetime", 10*time.Minute, "exit after this long")
	flag.Parse()
	for _, a := range []string{*listen, *upstream} {
		if err := loopback(a); err != nil {
			fail(err)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fail(err)
	}
	var c counts
	out := json.NewEncoder(os.Stdout)
	var outMu sync.Mutex
	print := func(v any) {
		outMu.Lock()
		defer outMu.Unlock()
		_ = out.Encode(v)
	}
	print(map[string]string{"msg": "listening", "addr": ln.Addr().String()})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *lifetime)
	defer cancel()
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			q, e := c.queries.Load(), c.executes.Load()
			print(map[string]int64{"queries": q, "executes": e, "statements": q + e, "connections": c.connections.Load()})
		}
	}()
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			fail(err)
		}
		c.connections.Add(1)
		go relay(conn, *upstream, &c)
	}
}

func relay(client net.Conn, upstream string, c *counts) {
	defer client.Close()
	server, err := net.DialTimeout("tcp", upstream, 5*time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		_, _ = io.Copy(client, server)
		client.Close()
	}()
	_ = frontend(client, server, c)
}

// frontend copies the client's messages to the server, counting them: first
// the untyped start-up messages (an SSLRequest or GSSENCRequest, answered by
// one byte, may precede the StartupMessage), then typed messages.
func frontend(client io.Reader, server io.Writer, c *counts) error {
	for {
		msg, err := readMessage(client, false)
		if err != nil {
			return err
		}
		if _, err := server.Write(msg); err != nil {
			return err
		}
		if len(msg) < 8 {
			return errors.New("short start-up message")
		}
		switch binary.BigEndian.Uint32(msg[4:8]) {
		case 80877103, 80877104: // SSLRequest, GSSENCRequest: another start-up message follows
			continue
		}
		break
	}
	for {
		msg, err := readMessage(client, true)
		if err != nil {
			return err
		}
		switch msg[0] {
		case 'Q':
			c.queries.Add(1)
		case 'E':
			c.executes.Add(1)
		}
		if _, err := server.Write(msg); err != nil {
			return err
		}
	}
}

// readMessage reads one frontend message, with its type byte when typed.
func readMessage(r io.Reader, typed bool) ([]byte, error) {
	head := 4
	if typed {
		head = 5
	}
	buf := make([]byte, head, 256)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(buf[head-4:]))
	if n < 4 || n > 1<<30 {
		return nil, fmt.Errorf("bad message length %d", n)
	}
	buf = append(buf, make([]byte, n-4)...)
	if _, err := io.ReadFull(r, buf[head:]); err != nil {
		return nil, err
	}
	return buf, nil
}

func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address: refused", addr)
	}
	return nil
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pgcount: %v\n", err)
	os.Exit(1)
}
