//go:build !windows

package main

import (
	"os"
	"path/filepath"
	"strings"
)

// defaultConfigPath is where the service looks for its config on Linux.
func defaultConfigPath() string { return "/etc/ksef-sync/config.toml" }

// defaultServiceLogFile is empty on Linux: systemd puts standard error into the journal.
func defaultServiceLogFile() string { return "" }

// serviceDependencies are lines kardianos/service writes into the systemd unit: KSeF is remote,
// so the daemon starts once the network is really up. (SysV ignores them.)
func serviceDependencies() []string {
	return []string{"After=network-online.target", "Wants=network-online.target"}
}

// serviceAccountNeedsPassword: systemd's User= starts the daemon as that account without one.
const serviceAccountNeedsPassword = false

// serviceUserSupported tells whether the init system runs the daemon as -user. kardianos/service
// honours UserName only in the systemd unit and the upstart job; its SysV script, OpenRC, rc.d and
// procd files would silently run the daemon as root.
func serviceUserSupported(platform string) bool {
	return strings.Contains(platform, "systemd") || strings.Contains(platform, "upstart")
}

// removeRCLinks deletes the /etc/rc?.d/{S50,K02}ksef-sync links that kardianos/service's SysV
// install creates and its uninstall leaves behind, dangling. root is "/" outside tests. It returns
// the links removed.
func removeRCLinks(root string) ([]string, error) {
	links, err := filepath.Glob(filepath.Join(root, "etc", "rc[0-6S].d", "[SK][0-9][0-9]"+serviceName))
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, l := range links {
		if fi, err := os.Lstat(l); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			continue // only our links, never a real script someone put there
		}
		if err := os.Remove(l); err != nil {
			return removed, err
		}
		removed = append(removed, l)
	}
	return removed, nil
}
