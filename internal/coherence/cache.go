package coherence

import (
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
)

// Cache keeps values by row id for as long as the Bus's session holds its lease and no
// announcement removed them. A nil Cache keeps nothing.
type Cache[V any] struct {
	bus *Bus
	max int

	hits, misses atomic.Uint64

	mu  sync.RWMutex
	gen uint64 // bumped by every invalidation: a fill that spans one is dropped
	m   map[uuid.UUID]V
}

// NewCache returns a cache of at most max values, invalidated through b; nil when b is nil.
func NewCache[V any](b *Bus, max int) *Cache[V] {
	if b == nil {
		return nil
	}
	c := &Cache[V]{bus: b, max: max, m: map[uuid.UUID]V{}}
	b.mu.Lock()
	b.caches = append(b.caches, c)
	b.mu.Unlock()
	return c
}

// Get returns the value kept for id, if the instance may serve from memory now.
func (c *Cache[V]) Get(id uuid.UUID) (v V, ok bool) {
	if c == nil || !c.bus.Serving() {
		return v, false
	}
	c.mu.RLock()
	v, ok = c.m[id]
	c.mu.RUnlock()
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return v, ok
}

// Lookups counts the Gets answered from memory (hits) and the others, made while serving.
func (c *Cache[V]) Lookups() (hits, misses uint64) {
	if c == nil {
		return 0, 0
	}
	return c.hits.Load(), c.misses.Load()
}

// Fill is taken before reading a row from the database, and handed to Put with what was read.
type Fill struct{ gen uint64 }

// StartFill begins a fill.
func (c *Cache[V]) StartFill() Fill {
	if c == nil {
		return Fill{}
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return Fill{gen: c.gen}
}

// Put keeps v for id, unless an invalidation came between f and now (the value read may be
// one that was deleted meanwhile).
func (c *Cache[V]) Put(f Fill, id uuid.UUID, v V) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != f.gen {
		return
	}
	if len(c.m) >= c.max {
		// Full: forget an arbitrary eighth (map order is random), not a per-entry LRU list.
		n := c.max/8 + 1
		for k := range c.m {
			delete(c.m, k)
			if n--; n == 0 {
				break
			}
		}
	}
	c.m[id] = v
}

// Drop forgets id on this instance at once (the other instances hear of it from PostgreSQL).
func (c *Cache[V]) Drop(id uuid.UUID) {
	if c != nil {
		c.invalidate([]uuid.UUID{id}, false)
	}
}

// Len is how many values are kept.
func (c *Cache[V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

func (c *Cache[V]) invalidate(ids []uuid.UUID, all bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if all {
		clear(c.m)
		return
	}
	for _, id := range ids {
		delete(c.m, id)
	}
}
