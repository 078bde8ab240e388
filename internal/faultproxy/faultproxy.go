// Package faultproxy is the test kit's one TCP fault proxy: it sits between
// an authd instance (or any client) and a server, usually PostgreSQL, and
// lets a test cut the open connections, refuse new ones, or freeze them
// silently. A test that needs to read the protocol (cut right after a given
// answer) plugs its own Pipe in instead of the plain copy.
package faultproxy

import (
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Pipe forwards between a client connection and its server connection until
// either ends. It may close both; the proxy closes both when it returns.
type Pipe func(client, server net.Conn)

// Proxy is a running fault proxy on 127.0.0.1.
type Proxy struct {
	ln     net.Listener
	target string
	pipe   Pipe

	mu     sync.Mutex
	refuse bool
	conns  map[net.Conn]struct{}
	frozen []*atomic.Bool // one per connection of the plain copy
	wg     sync.WaitGroup
}

// Start listens on 127.0.0.1 and forwards every connection to target
// (host:port), through pipe when one is given (at most one), else by a plain
// copy that Freeze can silence. Everything is closed when t ends.
func Start(t testing.TB, target string, pipe ...Pipe) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	if len(pipe) > 0 {
		p.pipe = pipe[0]
	}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL returns serverURL (a postgres:// URL) with its host:port replaced by
// the proxy's.
func (p *Proxy) URL(t testing.TB, serverURL string) string {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.Addr()
	return u.String()
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.forward(c) }()
	}
}

func (p *Proxy) forward(c net.Conn) {
	if !p.track(c) {
		c.Close() // refusing: the client sees its connection closed at once
		return
	}
	defer p.drop(c)
	up, err := net.DialTimeout("tcp", p.target, 3*time.Second)
	if err != nil {
		return
	}
	if !p.track(up) { // refused (or cut) while dialling
		up.Close()
		return
	}
	defer p.drop(up)
	if p.pipe != nil {
		p.pipe(c, up)
		return
	}
	frozen := new(atomic.Bool)
	p.mu.Lock()
	p.frozen = append(p.frozen, frozen)
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { copyUnlessFrozen(up, c, frozen); up.Close(); close(done) }()
	copyUnlessFrozen(c, up, frozen)
	c.Close()
	<-done
}

// track records c as open unless the proxy refuses connections.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refuse {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// copyUnlessFrozen forwards src to dst, dropping everything once frozen.
func copyUnlessFrozen(dst, src net.Conn, frozen *atomic.Bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Cut closes every open connection through the proxy (new ones carry on
// unless Refuse is on): a server that dropped its clients.
func (p *Proxy) Cut() {
	p.mu.Lock()
	conns := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.frozen = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// Refuse makes new connections fail at once while on (open ones carry on):
// with Cut, a server that is down.
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// Freeze makes every open connection of the plain copy silent without
// closing it, as a network cut that neither side is told of (new
// connections carry on).
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.frozen {
		f.Store(true)
	}
}
