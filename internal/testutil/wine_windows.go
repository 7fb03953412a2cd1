package testutil

import (
	"sync"
	"syscall"
)

// underWine looks for wine_get_version in ntdll.dll, which Wine exports and Windows does not.
var underWine = sync.OnceValue(func() bool {
	return syscall.NewLazyDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
})
