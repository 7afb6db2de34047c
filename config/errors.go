package config

import (
	"errors"
	"fmt"
)

// inFile names the file each of err's problems is in: a configuration
// reports every problem it finds (errors.Join), each on a line of its own.
func inFile(path string, err error) error {
	errs := Problems(err)
	for i, e := range errs {
		errs[i] = fmt.Errorf("%s: %w", path, e)
	}
	return errors.Join(errs...)
}

// Problems splits an error of Load or Parse into the problems it
// reports, in the order they were found.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Problems(e)...)
		}
		return out
	}
	return []error{err}
}
