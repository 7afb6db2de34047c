package lru

import (
	"slices"
	"testing"
)

type item struct {
	link Links[item]
	name string
}

// order walks l from the back and checks the links both ways.
func order(t *testing.T, l *List[item]) []string {
	t.Helper()
	var names []string
	var prev *Links[item]
	for e := l.Back(); e != nil; e = e.link.Newer() {
		if e.link.older != prev {
			t.Fatalf("%s: older = %p, want %p", e.name, e.link.older, prev)
		}
		names = append(names, e.name)
		prev = &e.link
	}
	if l.front != prev {
		t.Fatalf("front = %p, want %p", l.front, prev)
	}
	return names
}

func TestList(t *testing.T) {
	var l List[item]
	if got := order(t, &l); len(got) != 0 {
		t.Fatalf("zero list holds %q", got)
	}
	a, b, c := &item{name: "a"}, &item{name: "b"}, &item{name: "c"}
	steps := []struct {
		name string
		do   func()
		want []string // back to front
	}{
		{"push a", func() { l.PushFront(a, &a.link) }, []string{"a"}},
		{"push b", func() { l.PushFront(b, &b.link) }, []string{"a", "b"}},
		{"push c", func() { l.PushFront(c, &c.link) }, []string{"a", "b", "c"}},
		{"use a (back)", func() { l.MoveToFront(&a.link) }, []string{"b", "c", "a"}},
		{"use c (middle)", func() { l.MoveToFront(&c.link) }, []string{"b", "a", "c"}},
		{"use c (front)", func() { l.MoveToFront(&c.link) }, []string{"b", "a", "c"}},
		{"remove a (middle)", func() { l.Remove(&a.link) }, []string{"b", "c"}},
		{"remove c (front)", func() { l.Remove(&c.link) }, []string{"b"}},
		{"remove b (last)", func() { l.Remove(&b.link) }, nil},
		{"push a again", func() { l.PushFront(a, &a.link) }, []string{"a"}},
	}
	for _, s := range steps {
		s.do()
		if got := order(t, &l); !slices.Equal(got, s.want) {
			t.Fatalf("%s: back to front %q, want %q", s.name, got, s.want)
		}
	}
	if b.link.newer != nil || b.link.older != nil || c.link.newer != nil || c.link.older != nil {
		t.Fatal("a removed entry keeps its links")
	}
	l.Clear()
	if l.Back() != nil || l.front != nil {
		t.Fatal("Clear left entries")
	}
}

func TestNoAllocs(t *testing.T) {
	var l List[item]
	a, b := &item{}, &item{}
	l.PushFront(a, &a.link)
	l.PushFront(b, &b.link)
	if n := testing.AllocsPerRun(100, func() { l.MoveToFront(&a.link); l.MoveToFront(&b.link) }); n != 0 {
		t.Fatalf("%v allocations per move", n)
	}
}

// BenchmarkMoveToFront moves entries of a list of 1024 in a scattered
// order: the work of a store's read of a key other than the last one.
func BenchmarkMoveToFront(b *testing.B) {
	var l List[item]
	items := make([]item, 1024)
	for i := range items {
		l.PushFront(&items[i], &items[i].link)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.MoveToFront(&items[(i*7)&1023].link)
		i++
	}
}
