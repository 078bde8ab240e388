package handlers

import (
	"encoding/csv"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// csvColumns are the columns of the security-events export: the fields of
// `event`, in its order.
var csvColumns = []string{"id", "type", "reason", "user_id", "session_id", "actor_user_id",
	"ip_prefix", "user_agent", "created_at", "details"}

// csvFlushEvery rows the export is pushed to the client.
const csvFlushEvery = 100

// exportSecurityEvents streams the page of events that the JSON form would
// return as CSV, writing each row as the database sends it. The cursor of
// the next page comes last, as the HTTP trailer X-Next-Cursor (empty on the
// last page), because it is known only once the rows are out.
//
// A failure before the first row is an ordinary problem response; a
// failure after it aborts the connection, so that a truncated export can
// never pass for a complete one.
func exportSecurityEvents(c *gin.Context, admin *services.Admin, q services.EventQuery) error {
	w := csv.NewWriter(c.Writer)
	started := false
	start := func() {
		if started {
			return
		}
		started = true
		h := c.Writer.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="security-events.csv"`)
		h.Set("Trailer", "X-Next-Cursor")
		c.Status(http.StatusOK)
		_ = w.Write(csvColumns)
	}
	rows := 0
	next, err := admin.EachSecurityEvent(c.Request.Context(), q, func(ev *models.SecurityEvent) error {
		start()
		if err := w.Write(csvRecord(ev)); err != nil {
			return err
		}
		if rows++; rows%csvFlushEvery == 0 {
			w.Flush()
			c.Writer.Flush()
		}
		return w.Error()
	})
	if err != nil && !started {
		return err
	}
	if err != nil {
		_ = c.Error(err)
		// net/http closes the connection without finishing the chunked
		// body: the client sees an error, never a short file.
		panic(http.ErrAbortHandler)
	}
	start()
	w.Flush()
	c.Writer.Header().Set("X-Next-Cursor", next)
	return w.Error()
}

func csvRecord(ev *models.SecurityEvent) []string {
	e := services.NewEventView(ev)
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	rec := []string{e.ID, e.Type, e.Reason, deref(e.UserID), deref(e.SessionID), deref(e.ActorUserID),
		e.IPPrefix, e.UserAgent, e.CreatedAt, string(e.Details)}
	for i, cell := range rec {
		rec[i] = csvSafe(cell)
	}
	return rec
}

// csvSafe neutralises every part of a cell that a spreadsheet could run as a
// formula (OWASP "CSV Injection"), whichever list separator it splits the
// file with: the start of the cell, and every fragment after a comma,
// semicolon, tab, carriage return or line feed. A fragment that begins, after
// optional spaces and double quotes, with = + - @ tab or carriage return gets
// a single quote in front of that character, so that it shows as text (the
// OWASP advice; the text stays readable, e.g. "Phone;'=HYPERLINK(...)").
// csv.Writer then quotes cells with commas, quotes and line breaks.
//
// Guarding the fragments, not only the first character, is what matters for
// a file opened with ';' as the separator (most of continental Europe) or
// tab: "Phone;=HYPERLINK(...)" is then two cells, and the second one is a
// formula. Quoting alone is not enough, since spreadsheets disagree on how a
// quoted cell ends when the separator differs.
func csvSafe(cell string) string {
	if !strings.ContainsAny(cell, csvDangerous) {
		return cell
	}
	var b strings.Builder
	b.Grow(len(cell) + 4)
	fragment := true // the next rune starts a fragment
	for i := 0; i < len(cell); {
		if fragment {
			fragment = false
			j := i
			for j < len(cell) {
				r, size := utf8.DecodeRuneInString(cell[j:])
				if r != '"' && !csvSpace(r) {
					break
				}
				j += size
			}
			b.WriteString(cell[i:j])
			if j < len(cell) && strings.IndexByte(csvDangerous, cell[j]) >= 0 {
				b.WriteByte('\'')
			}
			i = j
			continue
		}
		c := cell[i]
		b.WriteByte(c)
		i++
		fragment = strings.IndexByte(csvSeparators, c) >= 0
	}
	return b.String()
}

const (
	// csvDangerous are the characters a formula can start with.
	csvDangerous = "=+-@\t\r"
	// csvSeparators are the characters after which a spreadsheet may start
	// a new cell: the three list separators in use and the line breaks.
	csvSeparators = ",;\t\r\n"
)

// csvSpace reports whether a spreadsheet may skip r before a formula: spaces,
// but not the tab and line breaks, which are separators or dangerous
// themselves.
func csvSpace(r rune) bool {
	return r != '\t' && r != '\r' && r != '\n' && unicode.IsSpace(r)
}
