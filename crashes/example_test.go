package crashes_test

import (
	"fmt"

	"github.com/mapchaos/mapchaos/crashes"
)

func ExampleParse() {
	t := crashes.Parse(`unexpected fault address 0x7f52ad6002a3
fatal error: fault
[signal SIGBUS: bus error code=0x2 addr=0x7f52ad6002a3 pc=0x5ac139]

goroutine 1 gp=0xc000002380 m=0 mp=0x6f3e40 [running]:
runtime.throw({0x5c2b1e?, 0x0?})
	/usr/local/go/src/runtime/panic.go:1101 +0x48
runtime.sigpanic()
	/usr/local/go/src/runtime/signal_unix.go:939 +0x26a
github.com/oschwald/maxminddb-golang.(*Reader).traverseTree(0xc0000b2000, {0xc000012345, 0x10, 0x10}, 0x0, 0x80)
	/go/pkg/mod/github.com/oschwald/maxminddb-golang@v1.13.1/reader.go:286 +0xbe
`)
	fmt.Println(t.Signal, t.CodeName, t.Addr)
	fmt.Println(crashes.CodeMeaning(t.CodeName))
	fmt.Println(t.UserFrames(1)[0].Func)
	// Output:
	// SIGBUS BUS_ADRERR 0x7f52ad6002a3
	// the address is inside a mapping but no page of the file backs it: the mapped file is now shorter than the mapping (truncated or rewritten in place)
	// github.com/oschwald/maxminddb-golang.(*Reader).traverseTree
}
