package expectations

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestExpectations(t *testing.T) {
	c := clocktesting.NewFakePassiveClock(time.Now())
	e := New(c)
	if !e.Satisfied("a") {
		t.Fatal("nothing expected: satisfied")
	}
	e.Expect("a", 3, 1)
	e.Observed("a", true)
	e.Observed("a", true)
	if e.Satisfied("a") {
		t.Fatal("satisfied with one creation and one deletion outstanding")
	}
	e.Observed("a", true)
	e.Lower("a", 0, 1) // the deletion request failed
	if !e.Satisfied("a") {
		t.Fatal("all observed: not satisfied")
	}
	e.Expect("b", 2, 0)
	c.SetTime(c.Now().Add(TTL + time.Second))
	if !e.Satisfied("b") {
		t.Fatal("expired expectations still hold")
	}
}
