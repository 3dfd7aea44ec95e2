// Command guestprog is a payload for the vm specs, built for linux/arm64
// and run in the guest (or as its init): "exit N" exits with N, "sleep D"
// sleeps, "write FILE TEXT" writes a file and prints TEXT. With no
// arguments it exits 0 at once (as PID 1 that panics the kernel).
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case "exit":
		n, _ := strconv.Atoi(os.Args[2])
		fmt.Printf("guestprog: exiting %d\n", n)
		os.Exit(n)
	case "sleep":
		d, _ := time.ParseDuration(os.Args[2])
		fmt.Printf("guestprog: sleeping %s\n", d)
		time.Sleep(d)
	case "write":
		if err := os.WriteFile(os.Args[2], []byte(os.Args[3]), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(os.Args[3])
	}
}
