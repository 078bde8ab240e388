package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/authd/authd/internal/testdb"
)

// chromiumPath is Debian's chromium; AUTHD_CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("AUTHD_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// requireBrowser skips the test when no Chromium is installed, unless
// AUTHD_TEST_REQUIRE_BROWSER=1 (CI), where a missing browser fails it.
func requireBrowser(t *testing.T) string {
	t.Helper()
	p := chromiumPath()
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("AUTHD_TEST_REQUIRE_BROWSER") == "1" {
			t.Fatalf("AUTHD_TEST_REQUIRE_BROWSER=1 but no Chromium at %s: %v (apt-get install -y chromium)", p, err)
		}
		t.Skipf("browser tests skipped: no Chromium at %s (apt-get install -y chromium, or set AUTHD_CHROMIUM)", p)
	}
	return p
}

// Browser is one headless Chromium with a fresh profile. Every tab it opens
// reports console errors, uncaught exceptions and CSP violations; the test
// fails on any of them when it ends.
type Browser struct {
	t         *testing.T
	ctx       context.Context // the first tab; also the browser's lifetime
	downloads string
	mu        sync.Mutex
	problems  []string
}

// cspListener runs before the page's own scripts in every document and
// forwards securitypolicyviolation events to the test.
const cspListener = `document.addEventListener('securitypolicyviolation', (e) => {
  window.authdReportCSP({directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber, sample: e.sample});
}, true);`

type cspViolation struct {
	Directive string `json:"directive"`
	Blocked   string `json:"blocked"`
	Source    string `json:"source"`
	Line      int    `json:"line"`
	Sample    string `json:"sample"`
}

// chromium is the one Chromium process of the test binary, started by the
// first browser test with a fresh user-data-dir and stopped by TestMain.
// Each test gets its own browser context in it (separate cookies, storage,
// Web Locks and BroadcastChannels), which is much faster than a process
// per test.
var chromium struct {
	once sync.Once
	ctx  context.Context
	stop func()
	err  error
}

func TestMain(m *testing.M) {
	code := testdb.Main(m)
	if chromium.stop != nil {
		chromium.stop()
	}
	os.Exit(code)
}

func startChromium(exe string) {
	dir, err := os.MkdirTemp("", "authd-chromium-")
	if err != nil {
		chromium.err = err
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	chromium.ctx = ctx
	chromium.stop = func() {
		cancel()
		cancelAlloc()
		os.RemoveAll(dir)
	}
	chromium.err = chromedp.Do(ctx)
}

// NewBrowser gives the test a fresh browser context (like a new profile)
// with one tab; it is closed when the test ends.
func NewBrowser(t *testing.T) *Browser {
	t.Helper()
	exe := requireBrowser(t)
	chromium.once.Do(func() { startChromium(exe) })
	if chromium.err != nil {
		t.Fatalf("start chromium: %v", chromium.err)
	}
	ctx, cancel := chromedp.NewContext(chromium.ctx, chromedp.WithNewBrowserContext())
	b := &Browser{t: t, ctx: ctx, downloads: t.TempDir()}
	t.Cleanup(cancel)
	// Cleanups run last-in first-out: this check runs before the context
	// closes, so late console messages are still seen.
	t.Cleanup(b.checkClean)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a browser context: %v", err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:         browser.SetDownloadBehaviorBehaviorAllowAndName,
		BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
		DownloadPath:     b.downloads,
		EventsEnabled:    ptr(true),
	}); err != nil {
		t.Fatalf("set download behaviour: %v", err)
	}
	b.watch(ctx, "tab 1")
	return b
}

func ptr[T any](v T) *T { return &v }

// Tab returns the first tab.
func (b *Browser) Tab() *Tab { return &Tab{b: b, t: b.t, ctx: b.ctx, name: "tab 1"} }

// NewTab opens another tab in the same browser (same cookies).
func (b *Browser) NewTab(name string) *Tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open %s: %v", name, err)
	}
	b.watch(ctx, name)
	return &Tab{b: b, t: b.t, ctx: ctx, name: name}
}

func (b *Browser) report(format string, args ...any) {
	b.mu.Lock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
	b.mu.Unlock()
}

// watch subscribes to the console of a tab and installs the CSP listener.
func (b *Browser) watch(ctx context.Context, name string) {
	b.t.Helper()
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			switch {
			case m.IsException():
				b.report("%s: uncaught exception: %s (%s:%d)", name, m.Text, m.URL, m.Line)
			case m.Type == chromedp.ConsoleError && m.Source == "network":
				// "Failed to load resource: 401" for the API's expected
				// refusals (no cookie yet, a revoked session): the pages
				// handle those answers.
			case m.Type == chromedp.ConsoleError:
				b.report("%s: console error (%s): %s (%s:%d)", name, m.Source, m.Text, m.URL, m.Line)
			case m.Source == "security" || strings.Contains(m.Text, "Content Security Policy"):
				b.report("%s: security message: %s", name, m.Text)
			}
		}
	}()
	err := chromedp.Do(ctx,
		chromedp.ExposeFunc("authdReportCSP", func(_ context.Context, v cspViolation) (chromedp.Void, error) {
			b.report("%s: CSP violation: %s blocked %q at %s:%d (%s)", name, v.Directive, v.Blocked, v.Source, v.Line, v.Sample)
			return chromedp.Void{}, nil
		}),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspListener})
			return err
		}),
	)
	if err != nil {
		b.t.Fatalf("watch %s: %v", name, err)
	}
}

// checkClean fails the test for every console error, exception and CSP
// violation seen.
func (b *Browser) checkClean() {
	time.Sleep(150 * time.Millisecond) // let the last console events arrive
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("browser: %s", p)
	}
	b.problems = nil
}

// WaitDownload waits for the next completed download and returns its
// content.
func (b *Browser) WaitDownload(trigger func()) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	events := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	trigger()
	for ev, err := range events {
		if err != nil {
			b.t.Fatalf("wait for the download: %v", err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			data, err := os.ReadFile(filepath.Join(b.downloads, ev.GUID))
			if err != nil {
				b.t.Fatalf("read the download: %v", err)
			}
			return data
		case browser.DownloadProgressStateCanceled:
			b.t.Fatalf("the download was cancelled")
		}
	}
	b.t.Fatal("no download")
	return nil
}

// Tab is one page of the browser.
type Tab struct {
	b    *Browser
	t    testing.TB
	ctx  context.Context
	name string
}

// For returns the tab bound to a subtest, so that its failures stop that
// subtest.
func (tb *Tab) For(t testing.TB) *Tab {
	c := *tb
	c.t = t
	return &c
}

const stepTimeout = 15 * time.Second

// Do runs actions with a timeout, failing the test on error.
func (tb *Tab) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
}

// Eval evaluates a JavaScript expression (promises are awaited).
func Eval[T any](tb *Tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s: evaluate %s: %v", tb.name, expr, err)
	}
	return v
}

// poll reports whether the expression becomes true within limit, looking
// every 50 ms. (chromedp.Poll compiles its predicate with new Function,
// which the pages' CSP rightly refuses.)
func (tb *Tab) poll(expr string, limit time.Duration) bool {
	tb.t.Helper()
	deadline := time.Now().Add(limit)
	for !Eval[bool](tb, "!!("+expr+")") {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// WaitFor waits until the expression is true.
func (tb *Tab) WaitFor(what, expr string) {
	tb.t.Helper()
	if !tb.poll(expr, stepTimeout) {
		html := Eval[string](tb, "document.querySelector('main') ? document.querySelector('main').innerText : document.body.innerText")
		tb.t.Fatalf("%s: timed out waiting for %s (%s); the page shows:\n%s", tb.name, what, expr, html)
	}
}

// Visible is a JavaScript test that the element is rendered.
func Visible(sel string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && e.getClientRects().length > 0; })()`, jsString(sel))
}

// Parallel runs fn on every tab at once and fails the test (from the
// test's goroutine) with the errors.
func Parallel(t testing.TB, tabs []*Tab, fn func(ctx context.Context) error) {
	t.Helper()
	errs := make([]error, len(tabs))
	var wg sync.WaitGroup
	for i, tab := range tabs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(tab.ctx, stepTimeout)
			defer cancel()
			if err := fn(ctx); err != nil {
				errs[i] = fmt.Errorf("%s: %w", tab.name, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// Text returns the visible text of the first element that matches.
func (tb *Tab) Text(sel string) string {
	tb.t.Helper()
	return Eval[string](tb, fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e ? e.innerText : ''; })()`, jsString(sel)))
}

// Count returns the number of elements that match.
func (tb *Tab) Count(sel string) int {
	tb.t.Helper()
	return Eval[int](tb, fmt.Sprintf(`document.querySelectorAll(%s).length`, jsString(sel)))
}

// Open navigates to a URL and waits for the load.
func (tb *Tab) Open(url string) {
	tb.t.Helper()
	tb.Do("open "+url, chromedp.Navigate(url))
}

// Type focuses a field, clears it and types the text with key events.
func (tb *Tab) Type(sel, text string) {
	tb.t.Helper()
	tb.Do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	Eval[bool](tb, fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.value = ''; e.focus(); return true; })()`, jsString(sel)))
	tb.Do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// Click clicks the element.
func (tb *Tab) Click(sel string) {
	tb.t.Helper()
	tb.Do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// PressEnter sends Enter to the element (submitting its form by keyboard).
func (tb *Tab) PressEnter(sel string) {
	tb.t.Helper()
	tb.Do("press Enter in "+sel, chromedp.SendKeys(chromedp.CSS(sel), kb.Enter))
}

// SignIn fills the sign-in form and submits it with the keyboard.
func (tb *Tab) SignIn(email, password string) {
	tb.t.Helper()
	tb.WaitFor("the sign-in form", Visible("#signin-form"))
	tb.Type("#signin-email", email)
	tb.Type("#signin-password", password)
	tb.PressEnter("#signin-password")
	tb.WaitFor("signed in as "+email, fmt.Sprintf(`document.getElementById('who-email').textContent === %s && !document.getElementById('who').hidden`, jsString(email)))
}

// Screenshots saves full-page PNGs of the tab at desktop (1280) and phone
// (390) widths to $AUTHD_SCREENSHOTS (default: the repository's ignored
// screenshots folder).
func (tb *Tab) Screenshots(name string) {
	tb.t.Helper()
	dir := os.Getenv("AUTHD_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatalf("screenshots folder: %v", err)
	}
	for _, size := range []struct {
		label  string
		width  int64
		height int64
		mobile bool
	}{{"desktop", 1280, 900, false}, {"phone", 390, 844, true}} {
		tb.Do("resize to "+size.label, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
				Width: size.width, Height: size.height, DeviceScaleFactor: 1, Mobile: size.mobile,
			})
			return err
		}))
		// Let the layout settle for the new width.
		Eval[bool](tb, `new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
		if size.mobile {
			// Nothing may stick out sideways at phone width.
			if over := Eval[int](tb, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
				tb.t.Errorf("%s: %s is %dpx wider than a 390px phone screen", tb.name, name, over)
			}
		}
		ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			tb.t.Fatalf("screenshot %s: %v", name, err)
		}
		file := filepath.Join(dir, fmt.Sprintf("%s-%s.png", name, size.label))
		if err := os.WriteFile(file, png, 0o644); err != nil {
			tb.t.Fatalf("save screenshot: %v", err)
		}
	}
	tb.Do("reset the viewport", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
		return err
	}))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
