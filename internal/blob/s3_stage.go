package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

var errNoStaging = errors.New("s3: resumable uploads are not supported yet")

// CreateStage implements Stager.
func (s *S3) CreateStage(context.Context, string) (Stage, error) { return Stage{}, errNoStaging }

// Append implements Stager.
func (s *S3) Append(_ context.Context, _ string, st Stage, _ io.Reader) (Stage, error) {
	return st, errNoStaging
}

// Seal implements Stager.
func (s *S3) Seal(context.Context, string, Stage) (bool, error) { return false, errNoStaging }

// RemoveStage implements Stager.
func (s *S3) RemoveStage(context.Context, string) error { return nil }

// WalkStages implements Stager.
func (s *S3) WalkStages(context.Context, time.Time, func(string) error) error { return nil }
