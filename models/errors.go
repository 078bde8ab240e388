package models

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	gosqlite "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Sentinel errors that query funcs return in place of driver errors.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("duplicate")
)

// translate maps GORM and driver errors to the package's sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return ErrDuplicate
	}
	return err
}

// IsTransient reports whether err is a failure of the database that may go
// away by itself: the server is down, restarting or unreachable, a timeout
// fired, a lock could not be taken in time, or the transaction lost a
// serialization race. Such errors become 503 unavailable, never 500.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	// A cancelled context is a client that went away mid-request: nobody
	// reads the answer, and it is no fault of the service to log as one.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case strings.HasPrefix(pgErr.Code, "57P"): // admin shutdown, crash shutdown, cannot connect now
			return true
		}
		switch pgErr.Code {
		case "40001", "40P01", // serialization failure, deadlock
			"55P03", // lock_not_available (lock_timeout)
			"57014", // query_canceled (statement_timeout)
			"53300": // too_many_connections
			return true
		}
		return false
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	if pgconn.Timeout(err) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var sqliteErr *gosqlite.Error
	if errors.As(err, &sqliteErr) {
		switch sqliteErr.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "database is closed") || strings.Contains(msg, "database is locked") ||
		strings.Contains(msg, "connection refused") || strings.Contains(msg, "broken pipe")
}
