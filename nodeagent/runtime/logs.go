package runtime

import (
	"errors"
	"io"
)

// errLimitReached ends a log copy once LogOptions.LimitBytes were written;
// Logs treats it as success.
var errLimitReached = errors.New("log limit reached")

// limitLogWriter returns w, or with limit > 0 a writer that passes at most
// limit bytes to w and then fails with errLimitReached, so that the copy
// (and a follow) stops there.
func limitLogWriter(w io.Writer, limit int64) io.Writer {
	if limit <= 0 {
		return w
	}
	return &limitWriter{w: w, left: limit}
}

type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errLimitReached
	}
	short := int64(len(p)) > l.left
	if short {
		p = p[:l.left]
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	if err == nil && (short || l.left <= 0) {
		err = errLimitReached
	}
	return n, err
}
