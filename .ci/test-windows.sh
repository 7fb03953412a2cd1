#!/usr/bin/env bash
# make test-windows: the Windows build, for real, under Wine 10 in a cached Debian 13 root.
#  1. every package's Windows test binary, with per-package counts;
#  2. end to end: ksef-sync.exe run against the Linux simulator on loopback;
#  3. install / uninstall through Wine's service control manager, checked in the registry;
#  4. the MSI (make msi) installed and removed with msiexec, checked likewise.
# STEPS="units e2e service msi" picks steps (default: all); PKGS=./watcher and TESTRUN=regexp
# narrow the units step while working on one package.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
STEPS=${STEPS:-units e2e service msi}
source .ci/wine-root.sh
if ! command -v wixl >/dev/null 2>&1 || ! command -v msibuild >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wixl msitools >/dev/null
fi
wine_root_make
trap wine_leave EXIT
wine_enter "$REPO"
B=$WROOT/tmp/ksef-win # /tmp/ksef-win inside the root
rm -rf "$B" && mkdir -p "$B"
export GOOS=windows GOARCH=amd64 CGO_ENABLED=0
go build -trimpath -o "$B/ksef-sync.exe" ./cmd/ksef-sync
wine_run / wineboot -i >/dev/null 2>&1 || true
wine_run / wineserver -p >/dev/null 2>&1 || true # persistent: one wineserver for all the runs below
failed=0

# Tests that fail under Wine today, not run there until fixed (each passes on Linux), per package.
# Listed on every run so they are not forgotten; an empty list is the goal.
#  cmd/ksef-sync: error texts and exit codes that differ on Windows; e2e helpers that skip from a
#    goroutine other than the test's.
#  internal/pull: expects "/" in paths, and Europe/Warsaw without time/tzdata in the test binary.
#  ksef: expects Linux's "connection refused" where Windows says the connection could not be made.
declare -A WINE_KNOWN_FAILURES=(
  [cmd/ksef-sync]='^(TestAuthCheckUnreachable|TestCheckConfigValid|TestCheckConfigProblems|TestCheckConfigUnreadable|TestHelpAndVersionConventions|TestDoctorProblems|TestSendEndToEnd|TestPullUsageErrors)$'
  [internal/pull]='^TestPullLayoutRejectsUnsafeMetadata$'
  [ksef]='^TestUnreachableSaysSo$'
)

step_units() {
  echo "== Windows test binaries under Wine"
  local mod pkgs total_ran=0 total_pass=0 total_fail=0 total_skip=0
  mod=$(go list -m)
  pkgs=$(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ${PKGS:-./...})
  for p in $pkgs; do
    local rel=${p#"$mod"/} name
    name=${rel//\//_}
    go test -c -o "$B/$name.test.exe" "./$rel"
  done
  for p in $pkgs; do
    local rel=${p#"$mod"/} name rc=0 ran pass fail skip t0
    name=${rel//\//_}
    t0=$SECONDS
    local skip_args=()
    if [ -n "${WINE_KNOWN_FAILURES[$rel]:-}" ]; then
      skip_args=(-test.skip "${WINE_KNOWN_FAILURES[$rel]}")
      echo "      $rel: not run under Wine (known failures): ${WINE_KNOWN_FAILURES[$rel]}"
    fi
    WINE_ENV="KSEF_SYNC_TEST_BIN=Z:\\tmp\\ksef-win\\ksef-sync.exe" \
      wine_run "/src/$rel" wine "/tmp/ksef-win/$name.test.exe" -test.v -test.count=1 -test.timeout=8m ${TESTRUN:+-test.run "$TESTRUN"} "${skip_args[@]}" \
      >"$B/$name.log" 2>&1 || rc=$?
    pass=$(grep -c '^--- PASS' "$B/$name.log" || true)
    fail=$(grep -c '^--- FAIL' "$B/$name.log" || true)
    skip=$(grep -c '^--- SKIP' "$B/$name.log" || true)
    ran=$((pass + fail + skip))
    printf '%-28s %4d ran %4d passed %3d failed %3d skipped  %4ds\n' "$rel" "$ran" "$pass" "$fail" "$skip" $((SECONDS - t0))
    grep -A1 '^--- SKIP' "$B/$name.log" | grep -i 'under wine' | sed 's/^ */      skip: /' || true
    if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ] || [ "$ran" -eq 0 ]; then
      echo "---- $rel failed (exit $rc); the end of its log:"
      grep -E -B2 -A12 '^\s*--- FAIL|^panic|^FAIL' "$B/$name.log" | tail -80
      failed=1
    fi
    total_ran=$((total_ran + ran)) total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail)) total_skip=$((total_skip + skip))
  done
  echo "windows: $total_pass passed, $total_fail failed, $total_skip skipped"
}

# check COND MESSAGE: one line per check, failing the run when COND is false.
check() {
  if eval "$1"; then echo "  ok    $2"; else echo "  FAIL  $2"; failed=1; fi
}

# A Windows folder with a space in its name, C:\ksef e2e, seen from Linux as $E.
E="$WROOT/root/.wine/drive_c/ksef e2e"
WE='C:\ksef e2e'
SIM_PID=

# e2e_setup: the Linux simulator on loopback and a config for the Windows daemon.
e2e_setup() {
  [ -n "$SIM_PID" ] && return 0
  rm -rf "$E" && mkdir -p "$E"/{outbox,sent,error,inbox,state,secrets,logs}
  GOOS=linux GOARCH=amd64 go build -o "$B/ksef-sync-linux" ./cmd/ksef-sync
  "$B/ksef-sync-linux" sim -addr 127.0.0.1:0 -rate-limits off -delay 100ms >"$B/sim.out" 2>"$B/sim.log" &
  SIM_PID=$!
  for _ in $(seq 100); do grep -q '^token:' "$B/sim.out" && break; sleep 0.2; done
  local url token
  url=$(sed -n 's/^url: //p' "$B/sim.out")
  token=$(sed -n 's/^token: //p' "$B/sim.out")
  [ -n "$token" ] || { echo "the simulator did not start:"; cat "$B/sim.log"; return 1; }
  printf '%s\n' "$token" >"$E/secrets/ksef-token.txt"
  cat >"$E/config.toml" <<TOML
[ksef]
environment = "test"
url = "$url"
nip = "5265877635"

[auth]
method = "token"
token_file = 'C:\ksef e2e\secrets\ksef-token.txt'

[folders]
outbox = 'C:\ksef e2e\outbox'
sent   = 'C:\ksef e2e\sent'
error  = 'C:\ksef e2e\error'
inbox  = 'C:\ksef e2e\inbox'
state  = 'C:\ksef e2e\state'

[send]
gather_window = "1s"
poll_interval = "500ms"

[watch]
rescan = "2s"
settle = "500ms"

[log]
file = 'C:\ksef e2e\logs\ksef-sync.log'
TOML
}

step_e2e() {
  echo "== end to end: ksef-sync.exe run under Wine, the Linux simulator on loopback"
  e2e_setup
  local i day
  day=$(date +%F)
  for i in 1 2; do
    sed -e "s/#nip#/5265877635/g" -e "s/#invoicing_date#/$day/g" -e "s/#invoice_number#/FV-WINE-$i-$RANDOM/g" \
      internal/samples/invoice-template_v3.xml >"$E/outbox/.FV $i.tmp"
    mv "$E/outbox/.FV $i.tmp" "$E/outbox/FV $i.xml"
  done
  wine_run / wine /tmp/ksef-win/ksef-sync.exe run -config "$WE\\config.toml" >"$B/run.log" 2>&1 &
  local run_pid=$!
  for _ in $(seq 120); do
    [ "$(find "$E/sent" -name '*.ksef.json' | wc -l)" -ge 2 ] && break
    sleep 0.5
  done
  check '[ -s "$E/sent/FV 1.ksef.json" ] && [ -s "$E/sent/FV 2.ksef.json" ]' "both invoices registered: sent\\FV 1.ksef.json, sent\\FV 2.ksef.json"
  check '[ -s "$E/sent/FV 1.upo.xml" ] && [ -s "$E/sent/FV 2.upo.xml" ]' "UPOs written: sent\\FV 1.upo.xml, sent\\FV 2.upo.xml"
  check 'grep -q "\"ksefNumber\": *\"5265877635-" "$E/sent/FV 1.ksef.json"' "the .ksef.json holds the KSeF number"
  # The outbox keeps this daemon's (empty) claim folder, outbox\.ksef-sync\<daemon-id>, and its owner record <daemon-id>.owner.
  check '[ -z "$(ls -A "$E/outbox" | grep -vx .ksef-sync)$(find "$E/outbox/.ksef-sync" -type f ! -name "*.owner" 2>/dev/null)$(ls -A "$E/error")" ]' "outbox (but for its empty claim folder) and error folder empty"
  check '[ -n "$(find "$E/outbox/.ksef-sync" -maxdepth 1 -type f -name "*.owner")" ]' "owner record outbox\\.ksef-sync\\<daemon-id>.owner written"
  # The readiness check (a writer holding a file open without sharing keeps it from being
  # claimed) runs with real handles in watcher's Windows tests: TestFileHeldOpenWithoutSharingIsNotReported.
  kill "$run_pid" 2>/dev/null || true
  wine_run / wine 'C:\windows\system32\taskkill.exe' /f /im ksef-sync.exe >/dev/null 2>&1 || true
  wait "$run_pid" 2>/dev/null || true
  if [ "$failed" -ne 0 ]; then echo "---- ksef-sync.exe run log:"; tail -40 "$B/run.log"; tail -40 "$E/logs/ksef-sync.log" 2>/dev/null || true; fi
}

step_service() {
  echo "== install / uninstall through Wine's service control manager"
  e2e_setup
  local pf="$WROOT/root/.wine/drive_c/Program Files/ksef sync test" q
  mkdir -p "$pf" && cp "$B/ksef-sync.exe" "$pf/"
  local exe='C:\Program Files\ksef sync test\ksef-sync.exe' key='HKLM\System\CurrentControlSet\Services\ksef-sync'
  wine_run / wine sc delete ksef-sync >/dev/null 2>&1 || true # left over by an interrupted run
  wine_run / wine "$exe" install -config "$WE\\config.toml" | sed 's/^/  | /'
  q=$(wine_run / wine reg query "$key" 2>/dev/null | tr -d '\r')
  echo "$q" | grep -E 'ImagePath|Start|DependOnService|FailureActions|ObjectName' | sed 's/^ */  | /'
  check 'echo "$q" | grep -qF "\"$exe\" run -config \"$WE\\config.toml\""' "ImagePath quoted (the path holds spaces), config baked in"
  check 'echo "$q" | grep -qE "Start +REG_DWORD +0x2$"' "Start = 2 (automatic)"
  # Recovery actions: Wine's ChangeServiceConfig2 stores none; TestServiceConfigBakesAbsolutePath
  # asserts the options that ask kardianos/service for them.
  check '! echo "$q" | grep -qE "DependOnService +REG_MULTI_SZ +[^ ]"' "no DependOnService"
  wine_run / wine "$exe" uninstall | sed 's/^/  | /'
  check '! wine_run / wine reg query "$key" >/dev/null 2>&1' "uninstall removed the service key"
  rm -rf "$pf"
}

step_msi() {
  echo "== the MSI under Wine's msiexec"
  make -s msi >"$B/make-msi.log" 2>&1 || { cat "$B/make-msi.log"; failed=1; return; }
  cp bin/ksef-sync.msi "$B/ksef-sync.msi"
  echo "  built $(ls bin/ksef-sync-*-x64.msi | tail -1) ($(du -k bin/ksef-sync.msi | cut -f1) KiB)"
  local key='HKLM\System\CurrentControlSet\Services\ksef-sync' q
  local pf="$WROOT/root/.wine/drive_c/Program Files/ksef-sync" pd="$WROOT/root/.wine/drive_c/ProgramData/ksef-sync"
  wine_run / wine sc delete ksef-sync >/dev/null 2>&1 || true # left over by an interrupted run
  rm -rf "$pd" "$pf"
  wine_run / wine msiexec /i 'Z:\tmp\ksef-win\ksef-sync.msi' /qn /l*v 'Z:\tmp\ksef-win\msi-install.log' || true
  check '[ -f "$pf/ksef-sync.exe" ]' "installed C:\\Program Files\\ksef-sync\\ksef-sync.exe"
  check '[ -f "$pd/config.example.toml" ] && [ -f "$pd/config.toml" ]' "C:\\ProgramData\\ksef-sync\\config.example.toml and config.toml (made from the example)"
  check '[ -d "$pd/state" ] && [ -d "$pd/logs" ] && [ -d "$pd/secrets" ]' "C:\\ProgramData\\ksef-sync\\{state,logs,secrets}"
  q=$(wine_run / wine reg query "$key" 2>/dev/null | tr -d '\r')
  echo "$q" | grep -E 'ImagePath|Start|DependOnService|FailureActions|ObjectName' | sed 's/^ */  | /'
  # Windows Installer quotes the program's path in ImagePath; Wine's InstallServices does not, and
  # Wine's `sc config` (the package's QuoteImagePath fix-up) is a stub. Under Wine: the fix-up ran.
  check 'echo "$q" | grep -qF "ksef-sync.exe\" run -config \"C:\\ProgramData\\ksef-sync\\config.toml\"" ||
    { echo "$q" | grep -qF "C:\\Program Files\\ksef-sync\\ksef-sync.exe run -config \"C:\\ProgramData\\ksef-sync\\config.toml\"" &&
      grep -aA2 "Action start .*: QuoteImagePath\." "$B/msi-install.log" | grep -q "Return value 1"; }' \
    "service registered with the config baked in; ImagePath quoted by Windows Installer, or by the QuoteImagePath fix-up (ran; a stub under Wine)"
  check 'echo "$q" | grep -qE "Start +REG_DWORD +0x2$"' "Start = 2 (automatic)"
  # Wine's ChangeServiceConfig2 stores no failure actions: check that sc failure ran and succeeded.
  check 'grep -aA2 "Action start .*: SetRecovery\." "$B/msi-install.log" | grep -q "SetRecovery. Return value 1"' "recovery actions: sc failure ran (Wine does not store them)"
  check '! echo "$q" | grep -qE "DependOnService +REG_MULTI_SZ +[^ ]"' "no DependOnService"
  echo "# the admin's edit and the daemon's journal" >>"$pd/config.toml"
  echo journal >"$pd/state/journal.db"
  wine_run / wine msiexec /x 'Z:\tmp\ksef-win\ksef-sync.msi' /qn /l*v 'Z:\tmp\ksef-win\msi-uninstall.log' || true
  check '[ ! -e "$pf/ksef-sync.exe" ]' "uninstall removed ksef-sync.exe"
  check '! wine_run / wine reg query "$key" >/dev/null 2>&1' "uninstall removed the service"
  check 'grep -q "the admin" "$pd/config.toml" && [ -f "$pd/state/journal.db" ]' "uninstall kept config.toml and the state folder"
  if [ "$failed" -ne 0 ]; then grep -aiE 'error|failed|return value 3' "$B/msi-install.log" | head -20 || true; fi
}

for s in $STEPS; do
  "step_$s"
done
[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
exit $failed
