package blob

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/google/uuid"
)

// Stager receives one blob over many requests, possibly on several instances: a resumable
// upload. The bytes received so far live in a staging area named after the blob's key,
// durable as soon as Append returns, until Seal makes them the blob under that key. A staging
// area is never a blob: Walk does not list it and Get does not read it.
//
// The caller serialises the calls for one key (the upload's lock) and records, after each
// Append, the Stage it returned: a Stage that was not recorded is as if its Append never
// happened, since the next Append starts from the recorded one.
type Stager interface {
	// CreateStage makes an empty, durable staging area for the blob to be stored under key.
	CreateStage(ctx context.Context, key string) (Stage, error)
	// Append reads r to its end and adds its bytes to the staging area after st.Size bytes
	// (whatever is staged beyond them is dropped). It returns once they are durable, with
	// the new Stage. When r fails, the bytes read before are made durable all the same and
	// returned as the new Stage, along with r's error. On any other error, nothing more is
	// staged: the Stage returned is st.
	Append(ctx context.Context, key string, st Stage, r io.Reader) (Stage, error)
	// Seal makes the st.Size staged bytes the blob under key, durable, replacing any earlier
	// blob of that key (a Seal whose commit failed). reusable reports whether the staging area
	// still holds its bytes afterwards, so that after a failed commit they can be sealed again.
	Seal(ctx context.Context, key string, st Stage) (reusable bool, err error)
	// RemoveStage removes the staging area of key and all it holds; a missing one is not an
	// error. It leaves the blob under key, if there is one, alone.
	RemoveStage(ctx context.Context, key string) error
	// WalkStages calls fn with the key of every staging area last changed before olderThan,
	// for the sweep of staging areas that no upload names any more (left by a crash).
	WalkStages(ctx context.Context, olderThan time.Time, fn func(key string) error) error
}

// ErrStageLost is returned by Append and Seal when the staging area is gone (removed, or its
// multipart upload completed or aborted): the upload cannot go on.
var ErrStageLost = errors.New("staging area lost")

// Stage is the state of a staging area: how many bytes it holds, and whatever else the store
// needs to find them again (JSON, kept by the caller with the upload, opaque to it).
type Stage struct {
	Size int64
	Data []byte
}

// stageID is the part of a key that names its staging area: kind and uuid (kind/xx/uuid).
func stageID(key string) string {
	return key[:1] + "-" + key[len(key)-36:]
}

// keyOfStage is the key whose staging area id names, or "".
func keyOfStage(id string) string {
	if len(id) != 38 || id[1] != '-' {
		return ""
	}
	u := id[2:]
	if _, err := uuid.Parse(u); err != nil {
		return ""
	}
	key := id[:1] + "/" + u[:2] + "/" + u
	if !ValidKey(key) {
		return ""
	}
	return key
}
