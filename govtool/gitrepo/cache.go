package gitrepo

// lru is a least-recently-used cache bounded by the sum of its values'
// costs (their approximate size in bytes). Its keys are content addresses —
// an object hash, or a pack and an offset in it — so an entry never goes
// stale: the same key always names the same bytes. It is not safe for
// concurrent use; the Repo's lock serialises it.
type lru[K comparable, V any] struct {
	max, used int64
	m         map[K]*lruNode[K, V]
	ring      lruNode[K, V] // sentinel: ring.next is the most recently used
}

type lruNode[K comparable, V any] struct {
	key        K
	val        V
	cost       int64
	prev, next *lruNode[K, V]
}

func newLRU[K comparable, V any](max int64) *lru[K, V] {
	c := &lru[K, V]{max: max, m: make(map[K]*lruNode[K, V])}
	c.ring.next, c.ring.prev = &c.ring, &c.ring
	return c
}

func (c *lru[K, V]) get(k K) (V, bool) {
	n, ok := c.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.unlink(n)
	c.pushFront(n)
	return n.val, true
}

// put stores v under k. A value costing more than the whole cache is not
// kept; older entries are evicted until the rest fits.
func (c *lru[K, V]) put(k K, v V, cost int64) {
	if n, ok := c.m[k]; ok {
		c.unlink(n)
		c.used -= n.cost
		delete(c.m, k)
	}
	if cost > c.max {
		return
	}
	for c.used+cost > c.max {
		old := c.ring.prev
		c.unlink(old)
		c.used -= old.cost
		delete(c.m, old.key)
	}
	n := &lruNode[K, V]{key: k, val: v, cost: cost}
	c.m[k] = n
	c.used += cost
	c.pushFront(n)
}

func (c *lru[K, V]) len() int { return len(c.m) }

func (c *lru[K, V]) unlink(n *lruNode[K, V]) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

func (c *lru[K, V]) pushFront(n *lruNode[K, V]) {
	n.prev, n.next = &c.ring, c.ring.next
	c.ring.next.prev = n
	c.ring.next = n
}
