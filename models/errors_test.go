package models

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestIsTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, true},
		{fmt.Errorf("find user: %w", context.Canceled), true},
		{ErrNotFound, false},
		{errors.New("syntax error at or near"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := IsTransient(tt.err); got != tt.want {
			t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
