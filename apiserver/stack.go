package apiserver

// growStack grows the calling goroutine's stack to 16 KiB in one step.
//
// net/http serves every request on a new goroutine, which starts with a
// small stack. Decoding, defaulting and above all the field manager
// (structured-merge-diff walks objects recursively) take a request to
// about 16 KiB of stack, and the runtime gets there by doubling: three or
// four times copying the stack so far and adjusting its pointers. That
// was 5% of the server's CPU in a run of creates (bench
// controlplane/creates). Calling a function whose frame needs 14 KiB
// while the stack is still nearly empty makes the runtime pick the final
// size at once (newstack doubles until the frame fits) and copy almost
// nothing; 16 KiB stacks still come from the per-P stack cache. A
// long-lived request (a watch) that needs less is shrunk back by the
// garbage collector as any goroutine is.
//
//go:noinline
func growStack() byte {
	var frame [14 << 10]byte
	return touch(frame[:])
}

// touch keeps growStack's frame from being optimised away.
//
//go:noinline
func touch(b []byte) byte { return b[len(b)-1] }
