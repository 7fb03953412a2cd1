package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/notify"
)

// cmdNotify is `ksef-sync notify test -config FILE`: one test message through every configured
// channel, each result reported. Exit 0 when every channel delivered, 1 otherwise.
func cmdNotify(ctx context.Context, env *cliEnv, args []string) int {
	cfg, code := configSubcommand(env, args, "test", "usage: ksef-sync notify test -config FILE")
	if cfg == nil {
		return code
	}
	chs := notifyChannels(cfg, env.getenv)
	if len(chs) == 0 {
		fmt.Fprintln(env.stderr, "no notification channel is configured: set [notify] email_to or webhook_url")
		return exitFatal
	}
	host, _ := os.Hostname()
	m := notify.Message{
		Subject: "ksef-sync: test message from " + host,
		Text:    fmt.Sprintf("This is a test of ksef-sync's notifications for NIP %s, sent %s.\n", cfg.KSeF.NIP, time.Now().Format(time.RFC3339)),
		Total:   0,
	}
	result := exitOK
	for _, ch := range chs {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := ch.Send(cctx, m)
		cancel()
		if err != nil {
			fmt.Fprintf(env.stdout, "%s: FAILED: %s\n", ch.Name(), notify.Redact(err))
			result = exitFatal
			continue
		}
		fmt.Fprintf(env.stdout, "%s: sent\n", ch.Name())
	}
	return result
}
