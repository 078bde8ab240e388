package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axe-core 4.10.3 (MPL-2.0), vendored from its npm package into
// testdata/axe-core so the accessibility audit needs no network.
var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(filepath.Join("testdata", "axe-core", "axe.min.js"))
	return string(b), err
})

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// Audit runs axe-core inside the page (injected through the DevTools
// protocol, which the page's CSP does not govern) and fails the test for
// every violation of WCAG 2.1 A/AA and axe's best practices.
func (tb *Tab) Audit(what string) {
	tb.t.Helper()
	src, err := axeSource()
	if err != nil {
		tb.t.Fatalf("read the vendored axe-core: %v", err)
	}
	if !Eval[bool](tb, `typeof window.axe === 'object'`) {
		ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
		_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](src+"\n;undefined"))
		cancel()
		if err != nil {
			tb.t.Fatalf("inject axe-core: %v", err)
		}
	}
	raw := Eval[string](tb, `axe.run(document, {resultTypes: ['violations']}).then((r) => JSON.stringify(r.violations))`)
	var violations []axeViolation
	if err := json.Unmarshal([]byte(raw), &violations); err != nil {
		tb.t.Fatalf("axe result: %v", err)
	}
	for _, v := range violations {
		var nodes []string
		for _, n := range v.Nodes {
			nodes = append(nodes, fmt.Sprintf("%v: %s", n.Target, strings.ReplaceAll(n.Summary, "\n", " ")))
		}
		tb.t.Errorf("%s: axe %s (%s): %s\n  %s", what, v.ID, v.Impact, v.Help, strings.Join(nodes, "\n  "))
	}
}

// Viewport emulates a screen width (390: a phone, with touch metrics;
// 0 resets it).
func (tb *Tab) Viewport(width int64) {
	tb.t.Helper()
	tb.Do(fmt.Sprintf("viewport %d", width), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if width == 0 {
			_, err := chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
			return err
		}
		height := int64(900)
		if width < 600 {
			height = 844
		}
		_, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: width, Height: height, DeviceScaleFactor: 1, Mobile: width < 600,
		})
		return err
	}))
	Eval[bool](tb, `new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
}

// InView is a JavaScript test that the element is inside the viewport.
func InView(sel string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return false;
  const r = e.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; })()`, jsString(sel))
}

// Focused returns a description of the focused element.
func (tb *Tab) Focused() string {
	tb.t.Helper()
	return Eval[string](tb, `(() => { const e = document.activeElement; if (!e || e === document.body) return 'body';
  return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).split(' ').join('.') : '') + ' ' + (e.getAttribute('aria-label') || e.textContent || '').trim().slice(0, 60); })()`)
}

// Announced counts how many places would read text to a screen reader:
// live regions (aria-live, role status or alert) containing it, and the
// focused element when it contains it.
func (tb *Tab) Announced(text string) int {
	tb.t.Helper()
	return Eval[int](tb, fmt.Sprintf(`(() => { const want = %s; let n = 0;
  for (const e of document.querySelectorAll('[aria-live], [role=status], [role=alert]')) {
    if (e.closest('[hidden]') || e.parentElement.closest('[aria-live], [role=status], [role=alert]')) continue;
    if (e.textContent.includes(want)) n++;
  }
  const f = document.activeElement;
  if (f && f !== document.body && f.textContent.includes(want)) n++;
  return n; })()`, jsString(text)))
}

// Key presses a key (kb.Tab, kb.Enter...) or types text into whatever has
// focus, as a keyboard would.
func (tb *Tab) Key(keys string) {
	tb.t.Helper()
	tb.Do("press "+fmt.Sprintf("%q", keys), chromedp.KeyEvent(keys))
}

// TabTo presses Tab until the focused element matches sel (at most 80
// presses), failing the test when it never does.
func (tb *Tab) TabTo(sel string) {
	tb.t.Helper()
	for range 80 {
		if Eval[bool](tb, fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%s)`, jsString(sel))) {
			return
		}
		tb.Do("press Tab", chromedp.KeyEvent("\t"))
	}
	tb.t.Fatalf("%s: Tab never reached %s; focus is on %s", tb.name, sel, tb.Focused())
}

// FocusIs fails the test unless the focused element matches sel.
func (tb *Tab) FocusIs(what, sel string) {
	tb.t.Helper()
	expr := fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%s)`, jsString(sel))
	if !tb.poll(expr, 3*time.Second) {
		tb.t.Fatalf("%s: focus is on %s, want %s (%s)", tb.name, tb.Focused(), what, sel)
	}
}

// SplitWords lists the words of visible buttons under root that a line
// break cuts in two (a word with more than one line box).
func (tb *Tab) SplitWords(root string) []string {
	tb.t.Helper()
	return Eval[[]string](tb, fmt.Sprintf(`(() => { const out = [];
  for (const b of document.querySelectorAll(%s)) {
    if (!b.getClientRects().length) continue;
    const walker = document.createTreeWalker(b, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const re = /\S+/g; let m;
      while ((m = re.exec(n.data))) {
        const r = document.createRange(); r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
        const tops = new Set([...r.getClientRects()].map((x) => Math.round(x.top)));
        if (tops.size > 1) out.push(m[0]);
      }
    }
  }
  return out; })()`, jsString(root+" button")))
}
