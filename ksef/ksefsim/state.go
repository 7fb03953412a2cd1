package ksefsim

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// state is everything the simulator remembers; it is gob-encoded as one snapshot.
// Large payloads (invoice XML, batch parts, export parts) live in the blob pack, not here.
type state struct {
	Keys        []*keyPair
	Tokens      map[string]string          // KSeF token → NIP
	TokenRefs   map[string]string          // KSeF token → its EC reference number
	Grants      map[string]map[string]bool // owner NIP → contexts its credentials may act in (grants.go)
	Challenges  map[string]*challenge
	Auths       map[string]*authOp
	Bearers     map[string]*bearer
	Sessions    map[string]*session
	SessionList []string            // creation order
	Invoices    map[string]*invoice // invoice reference → record
	ByKsef      map[string]string   // KSeF number → invoice reference
	Stored      []string            // invoice references available for retrieval, in acceptance order
	DupKeys     map[string]dupEntry
	SeenHashes  map[string]bool // seller NIP + SHA-256 of every submitted invoice
	Exports     map[string]*export
	UpoPages    map[string]upoPage // UPO page reference → page
	Secret      []byte             // HMAC key for pre-signed storage URLs
	Blobs       map[string]blobRef
	PackSize    int64
	Counters    Stats

	// GrantPermissions holds the grants narrower than InvoiceWrite+InvoiceRead: owner → context →
	// permissions (grants.go).
	GrantPermissions map[string]map[string][]string
}

type challenge struct {
	Value     string
	Created   time.Time
	Timestamp int64
	Used      bool
}

type authOp struct {
	Ref            string
	NIP            string
	ContextType    string
	Method         string // Token | XadesSignature
	MethodCode     string
	MethodName     string
	Start          time.Time
	Code           int
	Description    string
	Details        []string
	Redeemed       bool
	RefreshToken   string
	RefreshUntil   time.Time
	LastRefresh    time.Time
	TokenRef       string // KSeF token reference (token login)
	TokenRevoked   bool   // the KSeF token of this login was revoked since: no more refreshes
	DocumentHash   string // SHA-256 of the signed AuthTokenRequest (XAdES login)
	AuthTokenValue string
	Held           bool // kept at status 100 until the admin releases it (HoldLogins)
	// GrantOwner is the NIP whose grant in the context this certificate login acts on; "" for the
	// context's own credentials (grants.go, permissions.go).
	GrantOwner string
}

type bearer struct {
	Kind       string // authentication | access | refresh
	AuthRef    string
	NIP        string
	ValidUntil time.Time
}

type session struct {
	Ref        string
	Kind       string // Online | Batch
	NIP        string
	AuthRef    string
	Form       formSpec
	AESKey     []byte
	IV         []byte
	KeyError   bool
	Created    time.Time
	Updated    time.Time
	ValidUntil time.Time
	Closed     bool
	ClosedAt   time.Time
	Invoices   []string
	Batch      *batchInfo
	UpoPages   []string
	// Failure is a terminal session status decided by processing (batch 405/420/430/435, 440 timeout).
	FailCode    int
	FailDesc    string
	FailDetails []string
	// Delay is a closed batch session's processing time; 0 = the fixed ProcessingDelay.
	Delay time.Duration
	// Unavailable: KSeF's service work holds the online session; every send into it is refused
	// with 21184 (status_faults.go).
	Unavailable bool
}

type batchInfo struct {
	FileSize    int64
	FileHash    string
	Compression string
	Parts       []batchPart
	Offline     bool
	Processed   bool
	ProcessedAt time.Time
	UploadUntil time.Time
}

type batchPart struct {
	Ordinal  int
	Size     int64 // declared
	Hash     string
	Uploaded bool
	// Received is the size of what storage received (storage takes any body; the close checks it).
	Received int64
}

type invoice struct {
	Ref           string
	SessionRef    string
	Ordinal       int
	FileName      string
	InvoiceHash   string
	Size          int
	Mode          string // online | batch
	Offline       bool
	CorrectedHash string // hashOfCorrectedInvoice of a technical correction (correction.go)
	KsefNumber    string
	InvoiceNumber string
	Received      time.Time // invoicingDate
	Acquisition   time.Time
	Storage       time.Time // permanentStorageDate
	Code          int
	Description   string
	Details       []string
	Extensions    map[string]string
	Facts         *invoiceFacts
	Form          formSpec
	ContextNIP    string
	Seeded        bool
	// Delay is this invoice's processing step (100 for Delay, then 150 for Delay); 0 = the
	// server's fixed ProcessingDelay.
	Delay time.Duration
}

type dupEntry struct{ SessionRef, KsefNumber string }

type export struct {
	Ref         string
	NIP         string
	Created     time.Time
	Done        bool
	Completed   time.Time
	Code        int
	Description string
	Details     []string
	Package     *exportPackage
}

type exportPackage struct {
	InvoiceCount int
	Size         int64
	IsTruncated  bool
	DateType     string
	LastDate     time.Time
	HWM          time.Time
	HasHWM       bool
	Parts        []exportPart
}

type exportPart struct {
	Ordinal int
	Name    string
	Size    int64
	Hash    string
	EncSize int64
	EncHash string
	BlobKey string
}

type upoPage struct {
	SessionRef string
	Page       int // 1-based
}

type blobRef struct{ Off, Len int64 }

func newState() *state {
	return &state{
		Tokens:     map[string]string{},
		TokenRefs:  map[string]string{},
		Grants:     map[string]map[string]bool{},
		Challenges: map[string]*challenge{},
		Auths:      map[string]*authOp{},
		Bearers:    map[string]*bearer{},
		Sessions:   map[string]*session{},
		Invoices:   map[string]*invoice{},
		ByKsef:     map[string]string{},
		DupKeys:    map[string]dupEntry{},
		SeenHashes: map[string]bool{},
		Exports:    map[string]*export{},
		UpoPages:   map[string]upoPage{},
		Blobs:      map[string]blobRef{},
		Counters:   Stats{Requests: map[string]int{}},
	}
}

const (
	snapshotName = "ksefsim-state.gob"
	packName     = "ksefsim-blobs.pack"
)

func loadState(dir string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(dir, snapshotName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	st := newState()
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(st); err != nil {
		return nil, fmt.Errorf("decode state: %w", err)
	}
	fillNilMaps(st)
	return st, nil
}

// fillNilMaps repairs maps gob leaves nil when they were empty at save time.
func fillNilMaps(st *state) {
	fresh := newState()
	if st.Tokens == nil {
		st.Tokens = fresh.Tokens
	}
	if st.TokenRefs == nil {
		st.TokenRefs = fresh.TokenRefs
	}
	if st.Grants == nil {
		st.Grants = fresh.Grants
	}
	if st.Challenges == nil {
		st.Challenges = fresh.Challenges
	}
	if st.Auths == nil {
		st.Auths = fresh.Auths
	}
	if st.Bearers == nil {
		st.Bearers = fresh.Bearers
	}
	if st.Sessions == nil {
		st.Sessions = fresh.Sessions
	}
	if st.Invoices == nil {
		st.Invoices = fresh.Invoices
	}
	if st.ByKsef == nil {
		st.ByKsef = fresh.ByKsef
	}
	if st.DupKeys == nil {
		st.DupKeys = fresh.DupKeys
	}
	if st.SeenHashes == nil {
		st.SeenHashes = fresh.SeenHashes
	}
	if st.Exports == nil {
		st.Exports = fresh.Exports
	}
	if st.UpoPages == nil {
		st.UpoPages = fresh.UpoPages
	}
	if st.Blobs == nil {
		st.Blobs = fresh.Blobs
	}
	if st.Counters.Requests == nil {
		st.Counters.Requests = map[string]int{}
	}
}

func encodeState(st *state) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(st); err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	return buf.Bytes(), nil
}

// writeFileAtomic writes data to path via temp file, fsync, rename and directory fsync.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("create temp: %w", err)
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write temp: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sync temp: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close temp: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename: %w", err)
	}
	syncDir(dir)
	return nil
}

// blobStore keeps payloads in memory and, with a state dir, appends them to one pack file so
// persisting 10 000 invoices costs one write per batch rather than a file (and fsync) each.
type blobStore struct {
	mem  map[string][]byte
	pack *os.File
}

func openBlobStore(dir string) (*blobStore, error) {
	b := &blobStore{mem: map[string][]byte{}}
	if dir == "" {
		return b, nil
	}
	f, err := os.OpenFile(filepath.Join(dir, packName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open blob pack: %w", err)
	}
	b.pack = f
	return b, nil
}

// put stores data under key; the caller holds the server lock and records the returned ref in state.
func (b *blobStore) put(st *state, key string, data []byte) error {
	if b.pack == nil {
		b.mem[key] = data
		return nil
	}
	if _, err := b.pack.WriteAt(data, st.PackSize); err != nil {
		return fmt.Errorf("append blob: %w", err)
	}
	st.Blobs[key] = blobRef{Off: st.PackSize, Len: int64(len(data))}
	st.PackSize += int64(len(data))
	return nil
}

func (b *blobStore) get(st *state, key string) ([]byte, bool) {
	if d, ok := b.mem[key]; ok {
		return d, true
	}
	ref, ok := st.Blobs[key]
	if !ok || b.pack == nil {
		return nil, false
	}
	d := make([]byte, ref.Len)
	if _, err := b.pack.ReadAt(d, ref.Off); err != nil && !errors.Is(err, io.EOF) {
		return nil, false
	}
	return d, true
}

func (b *blobStore) sync() error {
	if b.pack == nil {
		return nil
	}
	return b.pack.Sync()
}

func (b *blobStore) close() error {
	if b.pack == nil {
		return nil
	}
	return b.pack.Close()
}
