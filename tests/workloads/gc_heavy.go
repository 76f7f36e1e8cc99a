// SPDX-License-Identifier: MIT
// A garbage-collector-heavy Go workload for the unwinder and symbolizer tests: goroutines that
// build and drop binary trees (so the GC runs constantly and the runtime switches to the system
// stack), plus a hot function of our own (`main.churn`). Runs for the number of seconds given
// as the first argument (default 2, fractions allowed).
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

type node struct {
	left, right *node
	value       int
}

//go:noinline
func build(depth int) *node {
	if depth == 0 {
		return &node{value: 1}
	}
	return &node{left: build(depth - 1), right: build(depth - 1), value: depth}
}

//go:noinline
func sum(n *node) int {
	if n == nil {
		return 0
	}
	return n.value + sum(n.left) + sum(n.right)
}

//go:noinline
func churn(deadline time.Time) int {
	total := 0
	for time.Now().Before(deadline) {
		total += sum(build(12))
		labels := make(map[string]int)
		for i := 0; i < 64; i++ {
			labels[strconv.Itoa(i)] = i
		}
		total += len(labels)
	}
	return total
}

func main() {
	seconds := 2.0
	if len(os.Args) > 1 {
		if v, err := strconv.ParseFloat(os.Args[1], 64); err == nil {
			seconds = v
		}
	}
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	var wg sync.WaitGroup
	results := make([]int, 4)
	for g := range results {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			results[g] = churn(deadline)
		}(g)
	}
	wg.Wait()
	fmt.Println("gc_heavy done", results[0] > 0)
}
