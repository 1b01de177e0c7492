package htmlview

import "errors"

// OpError says what a page was doing when the library failed ("load the
// deliveries"): the error page names the operation, the log gets the
// error.
type OpError struct {
	Op  string
	Err error
}

func (e *OpError) Error() string { return e.Op + ": " + e.Err.Error() }

// Unwrap returns the library's error.
func (e *OpError) Unwrap() error { return e.Err }

// Failed wraps err with the operation that failed; nil stays nil.
func Failed(op string, err error) error {
	if err == nil {
		return nil
	}
	return &OpError{Op: op, Err: err}
}

// OpOf returns the operation an OpError in err's chain names, or def.
func OpOf(err error, def string) string {
	var oe *OpError
	if errors.As(err, &oe) {
		return oe.Op
	}
	return def
}
