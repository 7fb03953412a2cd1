package main

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// orderedOutput lets several companies work at once while the terminal shows one company's output
// after another, in configuration order, each under its "company NAME:" line. The company whose
// turn it is writes straight through, so a long wait (a daemon finishing the outbox, an export
// KSeF keeps at status 100) is announced while it lasts; the others write into buffers that are
// shown when their turn comes.
type orderedOutput struct {
	stdout, stderr io.Writer
	names          []string

	mu    sync.Mutex
	turn  int           // the company that writes through; len(names) when all are done
	held  [][]heldWrite // per company, what it wrote before its turn
	ended []bool        // per company, whether it has finished
}

// heldWrite is one write of a company waiting for its turn, with the stream it was meant for.
type heldWrite struct {
	toStderr bool
	data     []byte
}

func newOrderedOutput(stdout, stderr io.Writer, names []string) *orderedOutput {
	o := &orderedOutput{stdout: stdout, stderr: stderr, names: names,
		held: make([][]heldWrite, len(names)), ended: make([]bool, len(names))}
	if len(names) > 0 {
		o.announce(0)
	}
	return o
}

// env is the command environment of company i: env with its output ordered.
func (o *orderedOutput) env(env *cliEnv, i int) *cliEnv {
	return &cliEnv{stdout: orderedWriter{o, i, false}, stderr: orderedWriter{o, i, true}, stdin: env.stdin, getenv: env.getenv}
}

// end records that company i has finished and hands the turn on to the next unfinished company,
// showing what the finished ones in between wrote.
func (o *orderedOutput) end(i int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ended[i] = true
	for o.turn < len(o.names) && o.ended[o.turn] {
		o.turn++
		if o.turn == len(o.names) {
			return
		}
		o.announce(o.turn)
		for _, w := range o.held[o.turn] {
			_, _ = o.stream(w.toStderr).Write(w.data)
		}
		o.held[o.turn] = nil
	}
}

func (o *orderedOutput) announce(i int) {
	fmt.Fprintf(o.stdout, "company %s:\n", o.names[i])
}

func (o *orderedOutput) stream(toStderr bool) io.Writer {
	if toStderr {
		return o.stderr
	}
	return o.stdout
}

func (o *orderedOutput) write(i int, toStderr bool, p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if i == o.turn {
		return o.stream(toStderr).Write(p)
	}
	o.held[i] = append(o.held[i], heldWrite{toStderr, bytes.Clone(p)})
	return len(p), nil
}

// orderedWriter is one company's stdout or stderr.
type orderedWriter struct {
	o        *orderedOutput
	company  int
	toStderr bool
}

func (w orderedWriter) Write(p []byte) (int, error) { return w.o.write(w.company, w.toStderr, p) }
