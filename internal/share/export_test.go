package share

import (
	"context"

	"github.com/google/uuid"
)

// CommitHooks are the faults a test injects into the commit path, and the points it waits
// on (see hooks).
type CommitHooks struct {
	BeforeBatch func(ids []uuid.UUID)
	InGroup     func(ctx context.Context, ids []uuid.UUID) error
	Alone       func(id uuid.UUID)
	QuotaLocked func(tenantID int64)
}

// SetCommitHooks installs h in s, before s commits anything.
func SetCommitHooks(s *Service, h CommitHooks) {
	s.hooks = hooks{
		beforeBatch: h.BeforeBatch, inGroup: h.InGroup, alone: h.Alone, quotaLocked: h.QuotaLocked,
	}
}

// QueuedCommits counts the simple uploads waiting for a group.
func QueuedCommits(s *Service) int {
	s.group.mu.Lock()
	defer s.group.mu.Unlock()
	return len(s.group.queue)
}
