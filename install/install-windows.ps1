<#
.SYNOPSIS
  Installs ksef-sync as a Windows service.

.DESCRIPTION
  Copies ksef-sync.exe to "C:\Program Files\ksef-sync", creates %ProgramData%\ksef-sync with
  config.toml (from config.example.toml if none exists), state\ and logs\, restricts their ACLs to
  Administrators, SYSTEM and the service account, and registers the service with recovery actions
  (restart on failure) through `ksef-sync install`.

  Run from an elevated PowerShell in the folder that holds ksef-sync.exe and config.example.toml:
    .\install-windows.ps1                                   # runs as LocalSystem
    .\install-windows.ps1 -ServiceAccount 'CORP\svc-ksef'   # a domain account with rights on the share

  The account's password is asked for interactively and passed to ksef-sync through the
  KSEF_SYNC_SERVICE_PASSWORD environment variable of this process only, never on the command line.
#>
[CmdletBinding()]
param(
    [string]$ServiceAccount = "",
    [string]$InstallDir = "$env:ProgramFiles\ksef-sync",
    [string]$DataDir = "$env:ProgramData\ksef-sync"
)
$ErrorActionPreference = 'Stop'

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw "Run this script from an elevated PowerShell (Run as administrator)."
}

$exe = Join-Path $PSScriptRoot 'ksef-sync.exe'
if (-not (Test-Path $exe)) { $exe = Join-Path (Get-Location) 'ksef-sync.exe' }
if (-not (Test-Path $exe)) { throw "ksef-sync.exe not found next to this script." }

New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
Copy-Item $exe (Join-Path $InstallDir 'ksef-sync.exe') -Force
$bin = Join-Path $InstallDir 'ksef-sync.exe'

foreach ($d in @($DataDir, "$DataDir\state", "$DataDir\logs", "$DataDir\secrets")) {
    New-Item -ItemType Directory -Force -Path $d | Out-Null
}

$config = Join-Path $DataDir 'config.toml'
if (-not (Test-Path $config)) {
    $example = Join-Path $PSScriptRoot 'config.example.toml'
    if (-not (Test-Path $example)) { $example = Join-Path (Get-Location) 'config.example.toml' }
    Copy-Item $example $config
    Write-Host "Created $config from the example: edit it (NIP, folders as UNC paths, credentials) before starting."
}

# ACLs: the data folder holds credentials and the journal. Only Administrators, SYSTEM and the
# service account may touch it; inheritance from ProgramData (Users: read) is removed.
$acl = New-Object System.Security.AccessControl.DirectorySecurity
$acl.SetAccessRuleProtection($true, $false)
$inherit = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
$none = [System.Security.AccessControl.PropagationFlags]::None
foreach ($who in @('BUILTIN\Administrators', 'NT AUTHORITY\SYSTEM')) {
    $acl.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule($who, 'FullControl', $inherit, $none, 'Allow')))
}
if ($ServiceAccount -ne "") {
    $acl.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule($ServiceAccount, 'Modify', $inherit, $none, 'Allow')))
}
Set-Acl -Path $DataDir -AclObject $acl

& $bin check-config -config $config
if ($LASTEXITCODE -ne 0) {
    Write-Warning "The config has problems (listed above). Fix them, then run: `"$bin`" install -config `"$config`""
    exit 1
}

if ($ServiceAccount -ne "") {
    $secure = Read-Host "Password for $ServiceAccount" -AsSecureString
    $env:KSEF_SYNC_SERVICE_PASSWORD = [Runtime.InteropServices.Marshal]::PtrToStringAuto(
        [Runtime.InteropServices.Marshal]::SecureStringToBSTR($secure))
    try {
        & $bin install -config $config -user $ServiceAccount
    } finally {
        Remove-Item Env:\KSEF_SYNC_SERVICE_PASSWORD -ErrorAction SilentlyContinue
    }
} else {
    & $bin install -config $config
}
if ($LASTEXITCODE -ne 0) { throw "ksef-sync install failed." }

Write-Host ""
Write-Host "Installed. Check everything, then start the service:"
Write-Host "  & `"$bin`" doctor -config `"$config`""
Write-Host "  & `"$bin`" start -config `"$config`""
