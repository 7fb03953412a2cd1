package msg

// The keys, grouped by where they are shown. Arguments are fmt verbs, the same in both languages
// and in the same order.
const (
	// Rejections found before sending (internal/invoicexml): error/<name>.error.json and `validate`.
	InvEmptyHint               Key = "inv.empty.hint"
	InvEmptyDesc               Key = "inv.empty.desc"
	InvTooLargeHint            Key = "inv.too-large.hint"
	InvTooLargeDesc            Key = "inv.too-large.desc"
	InvTooLargeAttachDesc      Key = "inv.too-large-attachment.desc"
	InvFutureDateHint          Key = "inv.future-issue-date.hint"
	InvFutureDateDesc          Key = "inv.future-issue-date.desc"
	InvInvalidNIPHint          Key = "inv.invalid-nip.hint"
	InvInvalidNIPDesc          Key = "inv.invalid-nip.desc"
	InvForbiddenCharHint       Key = "inv.forbidden-character.hint"
	InvForbiddenCharDesc       Key = "inv.forbidden-character.desc"
	InvCharAt                  Key = "inv.character-at"
	InvUndeclared1250Hint      Key = "inv.undeclared-1250.hint"
	InvMislabelledUTF8Hint     Key = "inv.mislabelled-utf8.hint"
	InvMislabelledUTF8Desc     Key = "inv.mislabelled-utf8.desc"
	InvUTF16NoBOMHint          Key = "inv.utf16-no-bom.hint"
	InvUTF16NoBOMDesc          Key = "inv.utf16-no-bom.desc"
	InvUnsupportedEncodingHint Key = "inv.unsupported-encoding.hint"
	InvUnsupportedEncodingDesc Key = "inv.unsupported-encoding.desc"
	InvBadUTF8Desc             Key = "inv.bad-utf8.desc"
	InvNotReallyHint           Key = "inv.not-really-encoding.hint"
	InvUndefinedByteDesc       Key = "inv.undefined-byte.desc"
	InvExportAgainUTF8Hint     Key = "inv.export-again-utf8.hint"
	InvUTF16OddDesc            Key = "inv.utf16-odd.desc"
	InvUTF16BrokenDesc         Key = "inv.utf16-broken.desc"
	InvProcInstHint            Key = "inv.processing-instruction.hint"
	InvProcInstDesc            Key = "inv.processing-instruction.desc"
	InvDoctypeHint             Key = "inv.doctype.hint"
	InvDoctypeDesc             Key = "inv.doctype.desc"
	InvNotFA3Hint              Key = "inv.not-fa3.hint"
	InvUnsupportedFormHint     Key = "inv.unsupported-form.hint"
	InvUnsupportedFormDesc     Key = "inv.unsupported-form.desc"
	InvOtherVersionDesc        Key = "inv.other-version.desc"
	InvWrongNamespaceDesc      Key = "inv.wrong-namespace.desc"
	InvNotInvoiceHint          Key = "inv.not-invoice.hint"
	InvNotInvoiceDesc          Key = "inv.not-invoice.desc"
	InvNotXMLHint              Key = "inv.not-xml.hint"
	InvNotXMLDesc              Key = "inv.not-xml.desc"
	InvNoKodFormularzaDesc     Key = "inv.no-kod-formularza.desc"
	InvKodUnsupportedDesc      Key = "inv.kod-unsupported.desc"
	InvKodNotFA3Desc           Key = "inv.kod-not-fa3.desc"
	InvFieldP2                 Key = "inv.field.p2"
	InvFieldP1                 Key = "inv.field.p1"
	InvFieldSellerNIP          Key = "inv.field.seller-nip"
	InvMissingFieldDesc        Key = "inv.missing-field.desc"
	InvMissingFieldHint        Key = "inv.missing-field.hint"
	InvWrongSellerDesc         Key = "inv.wrong-seller-nip.desc"
	InvWrongSellerHint         Key = "inv.wrong-seller-nip.hint"
	InvSchemaDesc              Key = "inv.schema.desc"
	InvSchemaMoreAtLeast       Key = "inv.schema.more-at-least"
	InvSchemaMore              Key = "inv.schema.more"
	InvSchemaHint              Key = "inv.schema.hint"

	// FA(3) schema problems (internal/xsd): the details of a `schema` rejection and `validate`.
	XsdDetail            Key = "xsd.detail"
	XsdNotWellFormed     Key = "xsd.not-well-formed"
	XsdDuplicateAttr     Key = "xsd.duplicate-attribute"
	XsdSecondRoot        Key = "xsd.second-root"
	XsdTextOutsideRoot   Key = "xsd.text-outside-root"
	XsdNoRoot            Key = "xsd.no-root"
	XsdTooDeep           Key = "xsd.too-deep"
	XsdUnknownRoot       Key = "xsd.unknown-root"
	XsdExpectedRoot      Key = "xsd.expected-root"
	XsdNoChildElements   Key = "xsd.no-child-elements"
	XsdElement           Key = "xsd.element"
	XsdUnknownElement    Key = "xsd.unknown-element"
	XsdElementWrongNS    Key = "xsd.element-wrong-namespace"
	XsdElementNoNS       Key = "xsd.element-no-namespace"
	XsdNotAllowed        Key = "xsd.not-allowed"
	XsdNotAllowedNoMore  Key = "xsd.not-allowed-no-more"
	XsdNotAllowedExpect  Key = "xsd.not-allowed-expected"
	XsdAppearsTwice      Key = "xsd.appears-twice"
	XsdOccursTooOften    Key = "xsd.occurs-too-often"
	XsdOccursTooRarely   Key = "xsd.occurs-too-rarely"
	XsdMissing           Key = "xsd.missing"
	XsdMissingBefore     Key = "xsd.missing-before"
	XsdMissingAfter      Key = "xsd.missing-after"
	XsdOr                Key = "xsd.or"
	XsdNothing           Key = "xsd.nothing"
	XsdXsiAttr           Key = "xsd.xsi-attribute"
	XsdAttrNotAllowed    Key = "xsd.attribute-not-allowed"
	XsdAttrValue         Key = "xsd.attribute-value"
	XsdAttrFixed         Key = "xsd.attribute-fixed"
	XsdAttrRequired      Key = "xsd.attribute-required"
	XsdTextNotAllowed    Key = "xsd.text-not-allowed"
	XsdFixedValue        Key = "xsd.fixed-value"
	XsdNotInteger        Key = "xsd.not-integer"
	XsdNotDecimal        Key = "xsd.not-decimal"
	XsdNotDate           Key = "xsd.not-date"
	XsdNotDateTime       Key = "xsd.not-date-time"
	XsdNotYear           Key = "xsd.not-year"
	XsdNotBoolean        Key = "xsd.not-boolean"
	XsdNotValidForType   Key = "xsd.not-valid-for-type"
	XsdNotValidForItType Key = "xsd.not-valid-for-its-type"
	XsdLeadingSpace      Key = "xsd.leading-space"
	XsdLength            Key = "xsd.length"
	XsdEmpty             Key = "xsd.empty"
	XsdTooShort          Key = "xsd.too-short"
	XsdTooLong           Key = "xsd.too-long"
	XsdPattern           Key = "xsd.pattern"
	XsdEnum              Key = "xsd.enumeration"
	XsdListClipped       Key = "xsd.list-clipped"
	XsdTotalDigits       Key = "xsd.total-digits"
	XsdFractionDigits    Key = "xsd.fraction-digits"
	XsdBelowMin          Key = "xsd.below-minimum"
	XsdAboveMax          Key = "xsd.above-maximum"
	XsdNotAbove          Key = "xsd.not-above"
	XsdNotBelow          Key = "xsd.not-below"

	// Conversions ksef-sync made before registering (internal/invoicexml): `conversion` in
	// sent/<name>.ksef.json.
	ConvRemovedBOM      Key = "conv.removed-utf8-bom"
	ConvConvertedFrom   Key = "conv.converted-from"
	ConvRemovedBlank    Key = "conv.removed-leading-blank"
	ConvChangedDeclared Key = "conv.changed-declared-encoding"

	// Why an accepted invoice's outputs have no UPO (internal/engine): `upoMissing` in
	// sent/<name>.ksef.json.
	UPOMissingForeign Key = "upo.missing-foreign-session"
	UPOMissingUnnamed Key = "upo.missing-unnamed-session"

	// Rejections by KSeF and by the claim (internal/engine): error/<name>.error.json.
	HintKSeF410          Key = "ksef.410.hint"
	HintKSeF415          Key = "ksef.415.hint"
	HintKSeF430          Key = "ksef.430.hint"
	HintKSeF435          Key = "ksef.435.hint"
	HintKSeF440          Key = "ksef.440.hint"
	HintKSeF440Different Key = "ksef.440-different.hint"
	HintKSeF450          Key = "ksef.450.hint"
	HintKSeF500          Key = "ksef.500.hint"
	HintKSeFOther        Key = "ksef.other.hint"
	DescDuplicateUnknown Key = "ksef.440-unknown.desc"
	DescDuplicateDiffers Key = "ksef.440-different.desc"
	DescSessionFailed    Key = "ksef.session-failed.desc"
	HintSessionFailed    Key = "ksef.session-failed.hint"
	DescFileTooLarge     Key = "claim.too-large.desc"
	HintFileTooLarge     Key = "claim.too-large.hint"

	// Technical corrections of offline invoices (issue 14; internal/engine offline.go).
	HintTechCorrection  Key = "ksef.technical-correction.hint"
	HintCorrection21166 Key = "ksef.21166.hint"
	HintCorrection21167 Key = "ksef.21167.hint"

	// Sending paused for a company (internal/engine session_keys.go): the log's error, which
	// `status` shows as the company's last error, and the error of `send`.
	SendKeyRefused Key = "send.session-key-refused"

	// `ksef-sync status` (internal/status).
	StHeader           Key = "status.header"
	StDaemon           Key = "status.daemon"
	StService          Key = "status.service"
	StNote             Key = "status.note"
	StCompany          Key = "status.company"
	StCompanyNamed     Key = "status.company-named"
	StKSeF             Key = "status.ksef"
	StOutbox           Key = "status.outbox"
	StLastError        Key = "status.last-error"
	StLastSend         Key = "status.last-send"
	StLastPull         Key = "status.last-pull"
	StNextPull         Key = "status.next-pull"
	StCredentials      Key = "status.credentials"
	StExpires          Key = "status.expires"
	StNone             Key = "status.none"
	StNever            Key = "status.never"
	StDisabled         Key = "status.disabled"
	StDaemonRunning    Key = "status.daemon-running"
	StDaemonLastSeen   Key = "status.daemon-last-seen"
	StDaemonNever      Key = "status.daemon-never"
	StServiceRunning   Key = "status.service-running"
	StServiceStopped   Key = "status.service-stopped"
	StServiceMissing   Key = "status.service-not-installed"
	StServiceUnknown   Key = "status.service-unknown"
	StKSeFReachable    Key = "status.ksef-reachable"
	StKSeFUnreachable  Key = "status.ksef-unreachable"
	StKSeFUnknown      Key = "status.ksef-unknown"
	StOutboxAvailable  Key = "status.outbox-available"
	StOutboxUnknown    Key = "status.outbox-unknown"
	StOutboxDown       Key = "status.outbox-down"
	StOutboxMissing    Key = "status.outbox-missing"
	StOutboxDenied     Key = "status.outbox-denied"
	StOutboxUnreadable Key = "status.outbox-unreadable"
	StOutboxHeld       Key = "status.outbox-held"
	StOutboxSharedID   Key = "status.outbox-shared-id"
	StInvoices         Key = "status.invoices"
	StQueue            Key = "status.queue"
	StProcessing       Key = "status.processing"
	StProcessingLine   Key = "status.processing-line"
	StAvailability     Key = "status.availability"
	StAvailNoDaemon    Key = "status.avail-no-daemon"
	StAvailUnknown     Key = "status.avail-unknown"
	StAvailAvailable   Key = "status.avail-available"
	StAvailUnannounced Key = "status.avail-unannounced"
	StAvailMaintenance Key = "status.avail-maintenance"
	StAvailFailure     Key = "status.avail-failure"
	StAvailTotal       Key = "status.avail-total-failure"
	StAvailOther       Key = "status.avail-other"
	StAvailSince       Key = "status.avail-since"
	StAvailStatusError Key = "status.avail-status-service-error"
	StNoUPO            Key = "status.no-upo"
	StNoUPOLine        Key = "status.no-upo-line"
	StOffline          Key = "status.offline"
	StOfflineLine      Key = "status.offline-line"
	StCursors          Key = "status.cursors"
	StNoneYet          Key = "status.none-yet"
	StRejections       Key = "status.rejections"
	StNoneListed       Key = "status.none-listed"
	StNoJournal        Key = "status.no-journal"

	// The local status page (internal/httpui); its labels reuse the status keys above.
	PgTitle        Key = "page.title"
	PgLocalTime    Key = "page.local-time"
	PgAvailability Key = "page.availability"
	PgInvoices     Key = "page.invoices"
	PgAccepted     Key = "page.accepted"
	PgRejected     Key = "page.rejected"
	PgInProgress   Key = "page.in-progress"
	PgToday        Key = "page.today"
	PgTodayCounts  Key = "page.today-counts"
	PgExpires      Key = "page.expires"
	PgQueue        Key = "page.queue"
	PgCursors      Key = "page.cursors"
	PgNoUPO        Key = "page.no-upo"
	PgAcceptedAs   Key = "page.accepted-as"
	PgNoUPOWhy     Key = "page.no-upo-why"
	PgWhy          Key = "page.why"
	PgOffline      Key = "page.offline"
	PgSendBy       Key = "page.send-by"
	PgRejections   Key = "page.rejections"
	PgDetails      Key = "page.details"
	PgRefresh      Key = "page.refresh"
	PgMetrics      Key = "page.metrics"
	PgHealth       Key = "page.health"
)

var catalogue = map[Key]text{
	InvEmptyHint: {
		"wyeksportuj fakturę z systemu ERP ponownie",
		"export the invoice from the ERP again"},
	InvEmptyDesc: {
		"plik jest pusty (0 bajtów): eksport z systemu ERP mógł się nie udać; wyeksportuj fakturę ponownie",
		"the file is empty (0 bytes): the ERP may have failed while exporting; export it again"},
	InvTooLargeHint: {
		"KSeF nie przyjmuje tak dużych faktur: usuń osadzone obrazy albo podziel fakturę",
		"KSeF does not accept invoices this large: remove embedded images or split the invoice"},
	InvTooLargeDesc: {
		"faktura ma %d bajtów; KSeF przyjmuje fakturę o rozmiarze najwyżej %d bajtów",
		"the invoice has %d bytes; KSeF accepts at most %d bytes for an invoice"},
	InvTooLargeAttachDesc: {
		"faktura ma %d bajtów; KSeF przyjmuje fakturę z załącznikiem (Zalacznik) o rozmiarze najwyżej %d bajtów",
		"the invoice has %d bytes; KSeF accepts at most %d bytes for an invoice with an attachment (Zalacznik)"},
	InvFutureDateHint: {
		"data wystawienia (P_1) jest w przyszłości: popraw ją w systemie ERP (albo poczekaj do tego dnia) i wyeksportuj fakturę ponownie",
		"the issue date (P_1) is in the future: correct it in the ERP (or wait until that day) and export the invoice again"},
	InvFutureDateDesc: {
		"data wystawienia %s (P_1) jest późniejsza niż dzisiejsza data w Polsce (%s): KSeF odrzuca faktury wystawione w przyszłości",
		"the issue date %s (P_1) is after today (%s in Poland): KSeF refuses invoices issued in the future"},
	InvInvalidNIPHint: {
		"popraw NIP w polu %s w systemie ERP (to zwykle literówka) i wyeksportuj fakturę ponownie",
		"correct the NIP in %s in the ERP (usually a typo) and export the invoice again"},
	InvInvalidNIPDesc: {
		"NIP %s (%s) ma błędną cyfrę kontrolną: KSeF produkcyjny odrzuca taką fakturę",
		"the NIP %s (%s) has a wrong check digit: production KSeF refuses such an invoice"},
	InvForbiddenCharHint: {
		"system ERP wstawił niewidoczny znak sterujący do pola tekstowego (np. nazwy lub opisu): usuń go w systemie ERP i wyeksportuj fakturę ponownie",
		"the ERP put an invisible control character into a text field (e.g. a name or description): remove it in the ERP and export again"},
	InvForbiddenCharDesc: {
		"%s jest niedozwolony w fakturze",
		"%s is not allowed in an invoice"},
	InvCharAt: {
		"znak U+%04X w wierszu %d, kolumnie %d",
		"character U+%04X at line %d, column %d"},
	InvUndeclared1250Hint: {
		"plik jest prawdopodobnie zapisany w kodowaniu windows-1250 (polskie znaki), ale tego nie deklaruje: " +
			"wyeksportuj go jako UTF-8 albo wpisz w pierwszym wierszu encoding=\"windows-1250\"",
		"the file is probably saved in windows-1250 (Polish letters) without saying so: " +
			"export it as UTF-8, or make the first line say encoding=\"windows-1250\""},
	InvMislabelledUTF8Hint: {
		"system ERP zapisuje UTF-8, ale oznacza plik jako %s: popraw ustawienie kodowania w eksporcie",
		"the ERP writes UTF-8 but labels the file %s: fix the export's encoding setting"},
	InvMislabelledUTF8Desc: {
		"plik deklaruje encoding=%q, ale jego zawartość jest w UTF-8; konwersja zniekształciłaby polskie znaki",
		"the file declares encoding=%q but its content is UTF-8; converting it would garble Polish letters"},
	InvUTF16NoBOMHint: {
		"wyeksportuj fakturę jako UTF-8 (albo UTF-16 ze znacznikiem kolejności bajtów, BOM)",
		"export the invoice as UTF-8 (or UTF-16 with a byte order mark)"},
	InvUTF16NoBOMDesc: {
		"plik deklaruje encoding=%q, ale nie zaczyna się znacznikiem kolejności bajtów UTF-16 (BOM)",
		"the file declares encoding=%q but has no UTF-16 byte order mark"},
	InvUnsupportedEncodingHint: {
		"wyeksportuj fakturę w kodowaniu UTF-8; windows-1250 i ISO-8859-2 są konwertowane automatycznie",
		"export the invoice as UTF-8 (kodowanie UTF-8); windows-1250 and ISO-8859-2 are converted automatically"},
	InvUnsupportedEncodingDesc: {
		"plik deklaruje encoding=%q, które nie jest obsługiwane",
		"the file declares encoding=%q, which is not supported"},
	InvBadUTF8Desc: {
		"bajt %d (wiersz %d) ma wartość 0x%02X, która nie jest poprawnym UTF-8",
		"byte %d (line %d) is 0x%02X, which is not valid UTF-8"},
	InvNotReallyHint: {
		"plik w rzeczywistości nie jest w kodowaniu %s: wyeksportuj go ponownie jako UTF-8",
		"the file is not really %s: export it again as UTF-8"},
	InvUndefinedByteDesc: {
		"bajt %d (wiersz %d) ma wartość 0x%02X, która nic nie znaczy w kodowaniu %s",
		"byte %d (line %d) is 0x%02X, which has no meaning in %s"},
	InvExportAgainUTF8Hint: {
		"wyeksportuj fakturę ponownie, najlepiej jako UTF-8",
		"export the invoice again, preferably as UTF-8"},
	InvUTF16OddDesc: {
		"plik zaczyna się znacznikiem kolejności bajtów %s, ale ma nieparzystą liczbę bajtów",
		"the file starts with a %s byte order mark but has an odd number of bytes"},
	InvUTF16BrokenDesc: {
		"bajt %d to uszkodzony znak %s",
		"byte %d is a broken %s character"},
	InvProcInstHint: {
		"usuń instrukcję <?...?> (np. odwołanie do arkusza stylów) z eksportu systemu ERP; KSeF ją odrzuca",
		"remove the <?...?> instruction (e.g. a stylesheet link) from the ERP export; KSeF refuses it"},
	InvProcInstDesc: {
		"instrukcja przetwarzania <?%s ...?> w wierszu %d, kolumnie %d jest niedozwolona",
		"processing instruction <?%s ...?> at line %d, column %d is not allowed"},
	InvDoctypeHint: {
		"usuń deklarację <!DOCTYPE ...> z eksportu systemu ERP; KSeF ją odrzuca",
		"remove the <!DOCTYPE ...> declaration from the ERP export; KSeF refuses it"},
	InvDoctypeDesc: {
		"deklaracja <!%s ...> w wierszu %d jest niedozwolona w fakturze",
		"<!%s ...> at line %d is not allowed in an invoice"},
	InvNotFA3Hint: {
		"KSeF przyjmuje tylko strukturę logiczną FA(3): przełącz eksport do KSeF w systemie ERP na FA(3) albo zaktualizuj system ERP",
		"KSeF accepts only the FA(3) structure (struktura logiczna FA(3)): switch the ERP's KSeF export to FA(3) or update the ERP"},
	InvUnsupportedFormHint: {
		"ksef-sync wysyła tylko faktury FA(3); do czasu obsługi FA_RR i PEF wyślij tę fakturę inaczej (np. w Aplikacji Podatnika KSeF) " +
			"albo przełącz eksport w systemie ERP na FA(3), jeśli to ma być zwykła faktura VAT",
		"ksef-sync sends FA(3) invoices only; send this invoice another way (e.g. the KSeF application) " +
			"until FA_RR and PEF are supported, or switch the ERP's export to FA(3) if it should be an ordinary VAT invoice"},
	InvUnsupportedFormDesc: {
		"to jest dokument %s (element główny <%s>, przestrzeń nazw %s); ksef-sync jeszcze nie obsługuje tej struktury",
		"this is a %s document (root <%s>, namespace %s); ksef-sync does not support this form yet"},
	InvOtherVersionDesc: {
		"to jest faktura %s (przestrzeń nazw %s), a nie FA(3)",
		"this is an %s invoice (namespace %s), not FA(3)"},
	InvWrongNamespaceDesc: {
		"element główny Faktura ma przestrzeń nazw %q zamiast przestrzeni nazw FA(3) %s",
		"the root element Faktura has namespace %q, not the FA(3) namespace %s"},
	InvNotInvoiceHint: {
		"ten plik nie jest fakturą w strukturze FA(3): sprawdź, co system ERP zapisał w folderze outbox",
		"this file is not an invoice (faktura) in the FA(3) structure: check what the ERP put into the outbox"},
	InvNotInvoiceDesc: {
		"element główny to <%s>, a nie <Faktura> (FA(3))",
		"the root element is <%s>, not <Faktura> (FA(3))"},
	InvNotXMLHint: {
		"system ERP zapisał uszkodzony plik (niepoprawny XML): wyeksportuj fakturę ponownie; jeśli to się powtarza, zgłoś to dostawcy systemu ERP",
		"the ERP produced a damaged file (niepoprawny XML): export the invoice again; if it repeats, tell the ERP vendor"},
	InvNotXMLDesc: {
		"plik nie jest poprawnym dokumentem XML: wiersz %d, kolumna %d: %s",
		"the file is not well-formed XML: line %d, column %d: %s"},
	InvNoKodFormularzaDesc: {
		"nagłówek (Naglowek) nie zawiera elementu KodFormularza, więc rodzaj struktury jest nieznany",
		"the header (Naglowek) has no KodFormularza, so the form type is unknown"},
	InvKodUnsupportedDesc: {
		"KodFormularza kodSystemowy to %q: ksef-sync jeszcze nie obsługuje tej struktury",
		"KodFormularza kodSystemowy is %q: ksef-sync does not support this form yet"},
	InvKodNotFA3Desc: {
		"KodFormularza kodSystemowy to %q, a nie \"FA (3)\"",
		"KodFormularza kodSystemowy is %q, not \"FA (3)\""},
	InvFieldP2: {
		"numer faktury (P_2)",
		"the invoice number (numer faktury, P_2)"},
	InvFieldP1: {
		"data wystawienia (P_1)",
		"the issue date (data wystawienia, P_1)"},
	InvFieldSellerNIP: {
		"NIP sprzedawcy (Podmiot1)",
		"the seller's NIP (NIP sprzedawcy)"},
	InvMissingFieldDesc: {
		"brak wartości: %s (pole nie występuje albo jest puste)",
		"%s is missing or empty"},
	InvMissingFieldHint: {
		"uzupełnij w systemie ERP: %s, i wyeksportuj fakturę ponownie",
		"fill in %s in the ERP and export the invoice again"},
	InvWrongSellerDesc: {
		"NIP sprzedawcy to %s, a ksef-sync wysyła faktury dla NIP %s",
		"the seller's NIP is %s but ksef-sync sends for NIP %s"},
	InvWrongSellerHint: {
		"ta faktura należy do innego podatnika: umieść ją w folderze outbox tamtej firmy albo popraw NIP sprzedawcy",
		"this invoice belongs to another company (inny podatnik): put it into that company's outbox or correct the seller's NIP"},
	InvSchemaDesc: {
		"faktura jest niezgodna ze schematem FA(3): wiersz %d, %s: %s%s",
		"the invoice does not match the FA(3) schema: line %d, %s: %s%s"},
	InvSchemaMoreAtLeast: {
		" (i co najmniej %d innych problemów, zobacz details)",
		" (and at least %d more problems, see details)"},
	InvSchemaMore: {
		" (oraz inne problemy: %d, zobacz details)",
		" (and %d more problem(s), see details)"},
	InvSchemaHint: {
		"popraw %s w systemie ERP i wyeksportuj fakturę ponownie; KSeF odrzuciłby ją jako niezgodną ze schematem FA(3)",
		"correct %s in the ERP and export the invoice again; KSeF would reject it as not matching the FA(3) schema (niezgodna ze schematem)"},

	XsdDetail:            {"wiersz %d: %s: %s", "line %d: %s: %s"},
	XsdNotWellFormed:     {"niepoprawny XML: %s", "not well-formed XML: %s"},
	XsdDuplicateAttr:     {"atrybut %s występuje dwa razy w <%s>", "attribute %s appears twice in <%s>"},
	XsdSecondRoot:        {"drugi element główny <%s>", "a second root element <%s>"},
	XsdTextOutsideRoot:   {"tekst poza elementem głównym", "text outside the root element"},
	XsdNoRoot:            {"dokument nie ma kompletnego elementu głównego", "the document has no complete root element"},
	XsdTooDeep:           {"elementy są zagnieżdżone na więcej niż %d poziomach", "elements are nested more than %d levels deep"},
	XsdUnknownRoot:       {"element główny <%s> (przestrzeń nazw %q) nie jest zadeklarowany w schemacie%s", "the root element <%s> (namespace %q) is not declared in the schema%s"},
	XsdExpectedRoot:      {"; oczekiwano <%s> w przestrzeni nazw %s", "; expected <%s> in namespace %s"},
	XsdNoChildElements:   {"element %s nie może zawierać elementów (znaleziono <%s>)", "element %s must not contain elements (found <%s>)"},
	XsdElement:           {"element %s", "element %s"},
	XsdUnknownElement:    {"nieznany element %s", "unknown element %s"},
	XsdElementWrongNS:    {"element %s w przestrzeni nazw %s (zła przestrzeń nazw)", "element %s in namespace %s (wrong namespace)"},
	XsdElementNoNS:       {"element %s bez przestrzeni nazw (zła przestrzeń nazw)", "element %s without a namespace (wrong namespace)"},
	XsdNotAllowed:        {"%s jest w tym miejscu niedozwolony", "%s is not allowed here"},
	XsdNotAllowedNoMore:  {"%s jest w tym miejscu niedozwolony: nie oczekiwano już żadnych elementów", "%s is not allowed here: no more elements are expected"},
	XsdNotAllowedExpect:  {"%s jest w tym miejscu niedozwolony; oczekiwano %s", "%s is not allowed here; expected %s"},
	XsdAppearsTwice:      {"element %s występuje więcej niż raz", "element %s appears more than once"},
	XsdOccursTooOften:    {"element %s występuje zbyt wiele razy (dozwolone najwyżej %d)", "element %s occurs more than %d times"},
	XsdOccursTooRarely:   {"element %s występuje zbyt mało razy (wymagane co najmniej %d)", "element %s must occur at least %d times"},
	XsdMissing:           {"brak elementu %s", "missing element %s"},
	XsdMissingBefore:     {"brak elementu %s przed %s", "missing element %s before %s"},
	XsdMissingAfter:      {"brak elementu %s po %s", "missing element %s after %s"},
	XsdOr:                {"%s lub %s", "%s or %s"},
	XsdNothing:           {"(nic)", "(nothing)"},
	XsdXsiAttr:           {"atrybut xsi:%s nie jest w tym miejscu obsługiwany", "attribute xsi:%s is not supported here"},
	XsdAttrNotAllowed:    {"atrybut %s jest niedozwolony w elemencie %s", "attribute %s is not allowed on %s"},
	XsdAttrValue:         {"atrybut %s: %s", "attribute %s: %s"},
	XsdAttrFixed:         {"atrybut %s musi mieć wartość '%s', a nie '%s'", "attribute %s must be '%s', not '%s'"},
	XsdAttrRequired:      {"brak wymaganego atrybutu %s", "required attribute %s is missing"},
	XsdTextNotAllowed:    {"tekst '%s' jest niedozwolony w %s, dozwolone są tylko elementy", "text '%s' is not allowed in %s, only elements"},
	XsdFixedValue:        {"wartość musi wynosić '%s', a nie '%s'", "the value must be '%s', not '%s'"},
	XsdNotInteger:        {"wartość '%s' nie jest liczbą całkowitą", "'%s' is not a whole number"},
	XsdNotDecimal:        {"wartość '%s' nie jest liczbą (użyj cyfr i kropki, np. 1234.50)", "'%s' is not a decimal number (use digits and a dot, e.g. 1234.50)"},
	XsdNotDate:           {"wartość '%s' nie jest poprawną datą (RRRR-MM-DD)", "'%s' is not a valid date (YYYY-MM-DD)"},
	XsdNotDateTime:       {"wartość '%s' nie jest poprawną datą z godziną (RRRR-MM-DDTgg:mm:ss, np. 2026-02-01T10:00:00Z)", "'%s' is not a valid date and time (YYYY-MM-DDThh:mm:ss, e.g. 2026-02-01T10:00:00Z)"},
	XsdNotYear:           {"wartość '%s' nie jest poprawnym rokiem", "'%s' is not a valid year"},
	XsdNotBoolean:        {"wartość '%s' nie jest żadną z wartości true, false, 1, 0", "'%s' is not true, false, 1 or 0"},
	XsdNotValidForType:   {"wartość '%s' jest niepoprawna dla typu %s", "'%s' is not valid for %s"},
	XsdNotValidForItType: {"wartość '%s' jest niepoprawna dla typu tego pola", "'%s' is not valid for its type"},
	XsdLeadingSpace:      {"wartość '%s' nie może zaczynać się od spacji", "'%s' must not start with a space"},
	XsdLength:            {"wartość '%s' ma złą długość (znaków: %d, wymagane dokładnie %d)", "'%s' has %d characters; exactly %d are required"},
	XsdEmpty:             {"wartość jest pusta (wymagane znaków: co najmniej %d)", "the value is empty; at least %d character(s) required"},
	XsdTooShort:          {"wartość '%s' jest za krótka (znaków: %d, wymagane co najmniej %d)", "'%s' is too short: %d characters, at least %d required"},
	XsdTooLong:           {"wartość '%s' jest za długa (znaków: %d, dozwolone najwyżej %d)", "'%s' is too long: %d characters, at most %d allowed"},
	XsdPattern:           {"wartość '%s' nie ma wymaganego formatu (%s)", "'%s' does not have the required format (%s)"},
	XsdEnum:              {"wartość '%s' nie jest dozwolona (dozwolone: %s)", "'%s' is not an allowed value (allowed: %s)"},
	XsdListClipped:       {"%s, … (wartości: %d)", "%s, … (%d values)"},
	XsdTotalDigits:       {"wartość '%s' ma za dużo cyfr (dozwolone najwyżej %d)", "'%s' has more than %d digits"},
	XsdFractionDigits:    {"wartość '%s' ma za dużo cyfr po kropce dziesiętnej (dozwolone najwyżej %d)", "'%s' has more than %d digits after the decimal point"},
	XsdBelowMin:          {"wartość '%s' jest mniejsza niż minimum %s", "'%s' is less than the minimum %s"},
	XsdAboveMax:          {"wartość '%s' jest większa niż maksimum %s", "'%s' is greater than the maximum %s"},
	XsdNotAbove:          {"wartość '%s' musi być większa niż %s", "'%s' must be greater than %s"},
	XsdNotBelow:          {"wartość '%s' musi być mniejsza niż %s", "'%s' must be less than %s"},

	ConvRemovedBOM:      {"usunięto znacznik kolejności bajtów UTF-8 (BOM)", "removed UTF-8 BOM"},
	ConvConvertedFrom:   {"przekonwertowano z kodowania %s na UTF-8", "converted from %s"},
	ConvRemovedBlank:    {"usunięto puste znaki przed deklaracją XML", "removed blank space before the XML declaration"},
	ConvChangedDeclared: {"zmieniono deklarowane kodowanie %s na UTF-8", "changed the declared encoding %s to UTF-8"},

	UPOMissingForeign: {"KSeF nie wydał UPO mimo %d prób: fakturę zarejestrowało inne narzędzie w sesji %s, która nie należy do ksef-sync (ostatnia odpowiedź: %s); UPO jest dostępne w tamtym narzędziu",
		"KSeF did not give the UPO after %d attempts: the invoice was registered by another tool in session %s, which is not ours (last answer: %s)"},
	UPOMissingUnnamed: {"KSeF uznał fakturę za duplikat, ale jako sesję oryginału wskazał sesję, która go nie zawiera (CIRFMF/ksef-api #450), a UPO wydaje tylko w sesji, która zarejestrowała fakturę; numer KSeF oryginału jest pewny (treść porównana), UPO pozostaje przy tamtej sesji",
		"KSeF found the invoice a duplicate but named a session that does not hold the original (CIRFMF/ksef-api #450), and it gives a UPO only in the session that registered the invoice; the original's KSeF number is certain (the content was compared), the UPO stays with that session"},

	// 410 is not about InvoiceWrite (a missing InvoiceWrite is an HTTP 403 on the send): production
	// gives it when the context may not issue for the seller in Podmiot1, "Kontekst … nie jest
	// uprawniony do wystawienia faktury w imieniu sprzedawcy" (CIRFMF/ksef-api #826), and for
	// self-billing without the seller's SelfInvoicing grant (#578, ksef-client-java #91).
	HintKSeF410: {
		"KSeF nie pozwala tej firmie wystawić faktury w imieniu sprzedawcy z Podmiot1 (powód w details): przy samofakturowaniu (P_17 = 1) sprzedawca musi nadać Twojej firmie w KSeF uprawnienie SelfInvoicing (samofakturowanie); w innym przypadku w Podmiot1 musi być firma, dla której ksef-sync wysyła faktury: popraw NIP sprzedawcy w ERP.",
		"KSeF does not let this company issue the invoice on behalf of the seller in Podmiot1 (details say why): for self-billing (P_17 = 1) the seller must grant your company the SelfInvoicing permission (samofakturowanie) in KSeF; otherwise Podmiot1 must be the company ksef-sync sends for: correct the seller's NIP in the ERP."},
	HintKSeF415: {
		"KSeF nie przyjmuje jeszcze załączników od tego sprzedawcy: włącz je w e-Urzędzie Skarbowym albo usuń sekcję Zalacznik.",
		"KSeF does not accept attachments (załączniki) from this seller yet: enable them in e-Urząd Skarbowy or remove the Zalacznik section."},
	// 430 "Błąd weryfikacji pliku faktury" is what production answers when the file does not match
	// what was declared for it, e.g. "Rozmiar przesłanego pliku faktury nie zgadza się z
	// zadeklarowaną wartością" (CIRFMF/ksef-api #128, #234); schema errors come as 450 (#141, #495).
	HintKSeF430: {
		"KSeF nie zweryfikował pliku faktury (np. rozmiar albo skrót niezgodny z zadeklarowanym; powód w details): zwykle to nie jest błąd treści faktury; zgłoś to działowi IT razem z plikiem .error.json. Jeśli details wskazują pole faktury, popraw je w ERP i wyeksportuj fakturę ponownie.",
		"KSeF could not verify the invoice file (e.g. its size or hash differs from what was declared; details say why): usually not a problem with the invoice's content; report it to IT with the .error.json file. If details name a field of the invoice, correct it in the ERP and export the invoice again."},
	HintKSeF435: {
		"KSeF trzy razy z rzędu nie odszyfrował faktury (ksef-sync wysyłał ją ponownie): to nie jest problem z treścią faktury; skontaktuj się z działem IT, a gdy problem minie, wyeksportuj fakturę ponownie.",
		"KSeF failed to decrypt the invoice three times in a row (ksef-sync sent it again each time): this is not a content problem; contact IT, and export the invoice again once it is solved."},
	HintKSeF440: {
		"Ten numer faktury (P_2) jest już zarejestrowany w KSeF.",
		"This invoice number (P_2) is already registered in KSeF."},
	HintKSeF440Different: {
		"Ten numer faktury (P_2) jest już zarejestrowany w KSeF z inną treścią: nadaj fakturze nowy numer albo wystaw fakturę korygującą (korektę).",
		"This invoice number (P_2) is already registered in KSeF with different content: give the invoice a new number, or issue a correction (korekta) instead."},
	HintKSeF450: {
		"KSeF znalazł błąd w treści faktury (błąd semantyczny): sprawdź details, popraw fakturę w systemie ERP i wyeksportuj ją ponownie.",
		"KSeF found a content error (błąd semantyczny): check the details, correct the invoice in the ERP and export it again."},
	HintKSeF500: {
		"KSeF trzy razy z rzędu zgłosił nieznany błąd (ksef-sync wysyłał fakturę ponownie): wyeksportuj ją ponownie później; jeśli to się powtarza, zgłoś to pomocy technicznej KSeF, podając numer referencyjny.",
		"KSeF reported an unknown error three times in a row (ksef-sync sent the invoice again each time): export it again later; if it repeats, contact KSeF support with the reference number."},
	HintKSeFOther: {
		"KSeF odrzucił fakturę: przeczytaj description i details, popraw fakturę w systemie ERP i wyeksportuj ją ponownie.",
		"KSeF rejected the invoice: read the description and details, correct the invoice in the ERP and export it again."},
	DescDuplicateUnknown: {
		"numer faktury jest już zarejestrowany jako %s; KSeF nie pozwolił porównać tamtej faktury z tym plikiem",
		"invoice number already registered as %s; KSeF did not let us compare its content with this file"},
	DescDuplicateDiffers: {
		"numer faktury jest już zarejestrowany jako %s z inną treścią",
		"invoice number already registered as %s with different content"},
	DescSessionFailed: {
		"KSeF nie podał wyniku tej faktury w sesji wsadowej %s ani we wcześniejszych, w których ksef-sync ją wysyłał: status sesji %d %s",
		"KSeF gave no result for this invoice in batch session %s nor in the earlier ones ksef-sync sent it in: session status %d %s"},
	HintSessionFailed: {
		"To nie jest błąd w treści faktury i nie jest ona zarejestrowana w KSeF: umieść plik ponownie w folderze outbox; jeśli to się powtarza, skontaktuj się z działem IT.",
		"This is not a content error and the invoice is not registered in KSeF: drop the file into the outbox again; if it repeats, contact IT."},
	DescFileTooLarge: {
		"plik ma ponad %d MB, znacznie więcej niż limit KSeF (1 MB na fakturę, 3 MB z załącznikami)",
		"the file is larger than %d MB, far above KSeF's 1 MB invoice limit (3 MB with attachments)"},
	HintFileTooLarge: {
		"To nie jest pojedyncza faktura: sprawdź eksport systemu ERP (mógł zapisać do folderu outbox dziennik albo całe archiwum).",
		"This is not a single invoice: check the ERP export (it may have written a log or a whole archive into the outbox)."},
	HintTechCorrection: {
		"Możliwa jest korekta techniczna: popraw plik tak, aby przeszedł weryfikację, i umieść go ponownie w folderze outbox z tym samym numerem faktury (P_2) %s; ksef-sync wyśle go w sesji interaktywnej z offlineMode true i hashOfCorrectedInvoice %s, a KSeF powiąże go z tą fakturą, więc wydrukowany już kod QR nadal będzie działał. Nie zmieniaj treści gospodarczej faktury.",
		"A technical correction (korekta techniczna) is possible: fix the file so it passes and drop it into the outbox again with the same invoice number (P_2) %s; ksef-sync sends it online with offlineMode true and hashOfCorrectedInvoice %s, and KSeF links it to this invoice so the QR code already printed keeps working. Do not change the invoice's business content."},
	HintCorrection21166: {
		"KSeF przyjął już korektę techniczną faktury z pliku %s: dla jednej faktury dozwolona jest tylko jedna. Nie trzeba niczego więcej wysyłać; jeśli sama faktura jest błędna, wystaw zwykłą fakturę korygującą.",
		"KSeF already accepted a technical correction of %s: only one is allowed per invoice. Nothing more to send; if the invoice itself is wrong, issue an ordinary correcting invoice (faktura korygująca)."},
	HintCorrection21167: {
		"KSeF zarejestrował fakturę z pliku %s poprawnie, więc nie można jej skorygować technicznie. Jeśli jej treść jest błędna, wystaw zwykłą fakturę korygującą.",
		"KSeF registered %s correctly, so it cannot be technically corrected. If its content is wrong, issue an ordinary correcting invoice (faktura korygująca)."},
	SendKeyRefused: {
		"KSeF nie odszyfrował klucza sesji w %d kolejnych sesjach interaktywnych (status sesji 415 „Błąd odszyfrowania dostarczonego klucza”), także po ponownym pobraniu kluczy publicznych KSeF: ksef-sync nie otwiera sesji dla tej firmy przez %s, a faktury czekają bezpiecznie w kolejce. Sprawdź, czy zegar komputera jest poprawny i czy ksef-sync jest w najnowszej wersji; jeśli to się powtarza, zgłoś pomocy technicznej KSeF numery sesji podane w dzienniku (%s).",
		"KSeF could not decrypt the session key of %d online sessions in a row (session status 415 \"Błąd odszyfrowania dostarczonego klucza\"), even after its public keys were fetched again: ksef-sync opens no session for this company for %s, and the invoices wait safely in the queue. Check that the computer's clock is right and that ksef-sync is the latest version; if it keeps happening, report the sessions to KSeF support (%s)."},

	StHeader:           {"stan ksef-sync, %s (%s)", "ksef-sync status at %s (%s)"},
	StDaemon:           {"proces w tle", "daemon"},
	StService:          {"usługa systemowa", "service"},
	StNote:             {"uwaga", "note"},
	StCompany:          {"Firma NIP %s (%s)", "Company NIP %s (%s)"},
	StCompanyNamed:     {"Firma %s, NIP %s (%s)", "Company %s, NIP %s (%s)"},
	StKSeF:             {"KSeF", "KSeF"},
	StOutbox:           {"folder outbox", "outbox"},
	StLastError:        {"ostatni błąd", "last error"},
	StLastSend:         {"ostatnia wysyłka", "last successful send"},
	StLastPull:         {"ostatnie pobranie", "last successful pull"},
	StNextPull:         {"następne pobranie", "next pull"},
	StCredentials:      {"poświadczenia", "credentials"},
	StExpires:          {", ważne do %s", ", expires %s"},
	StNone:             {"brak", "none"},
	StNever:            {"nigdy", "never"},
	StDisabled:         {"wyłączone", "disabled"},
	StDaemonRunning:    {"działa (PID %d na %s, od %s)", "running (PID %d on %s, since %s)"},
	StDaemonLastSeen:   {"nie działa (ostatnio widziany %s)", "not running (last seen %s)"},
	StDaemonNever:      {"nie działa (nigdy nie uruchomiony na tym folderze stanu)", "not running (never started on this state folder)"},
	StServiceRunning:   {"działa", "running"},
	StServiceStopped:   {"zatrzymana", "stopped"},
	StServiceMissing:   {"nie zainstalowana", "not installed"},
	StServiceUnknown:   {"stan nieznany", "unknown"},
	StKSeFReachable:    {"dostępny (sprawdzono %s)", "reachable (checked %s)"},
	StKSeFUnreachable:  {"NIEDOSTĘPNY (sprawdzono %s); faktury w kolejce są bezpieczne i zostaną wysłane, gdy KSeF odpowie", "NOT reachable (checked %s); queued invoices stay safe and are sent when it answers"},
	StKSeFUnknown:      {"nieznany (żaden działający proces się z nim nie łączył)", "unknown (no running daemon has talked to it)"},
	StOutboxAvailable:  {"dostępny", "available"},
	StOutboxUnknown:    {"nieznany (żaden działający proces go nie obserwuje)", "unknown (no running daemon watches it)"},
	StOutboxDown:       {"NIEDOSTĘPNY od %s: %s; ponawiane co kilka sekund, pliki zostaną pobrane, gdy tylko folder wróci", "NOT available since %s: %s; retried every few seconds, files are picked up as soon as it is back"},
	StOutboxMissing:    {"folder nie istnieje (udział sieciowy jeszcze niepodłączony?)", "the folder does not exist (a share not mounted yet?)"},
	StOutboxDenied:     {"brak uprawnień do odczytu folderu", "no permission to read the folder"},
	StOutboxUnreadable: {"nie można odczytać zawartości folderu", "the folder cannot be listed"},
	StOutboxSharedID: {"PROBLEM: identyfikator %s używa też działający ksef-sync na %s (folder stanu %s), więc ten nie pobiera plików z tego folderu outbox; skopiowany folder stanu? zatrzymaj ten proces, odsuń jego folder stanu %s i uruchom go z nowym, pustym (samo usunięcie daemon-id nie wystarczy: skopiowany dziennik zawiera faktury tamtego procesu); folderu .ksef-sync nie ruszaj",
		"PROBLEM: the id %s is also used by a running ksef-sync on %s (state folder %s), so this one takes no files from this outbox; a copied state folder? stop this daemon, move its state folder %s aside and start it with a new, empty one (deleting daemon-id alone is not enough: the copied journal holds the other daemon's invoices); leave the .ksef-sync folder alone"},
	StOutboxHeld:       {"%d plik(ów) pobranych przez inny proces ksef-sync (%s) czeka w %s; jeśli tamten komputer nie działa, przenieś je z powrotem do folderu outbox", "%d file(s) taken by another ksef-sync daemon (%s) wait in %s; if that host is down for good, move them back into the outbox"},
	StInvoices:         {"Faktury: %d = %d przyjętych + %d odrzuconych + %d w toku; dziś %d przyjętych, %d odrzuconych", "Invoices: %d = %d accepted + %d rejected + %d in progress; today %d accepted, %d rejected"},
	StQueue:            {"Kolejka:", "Queue:"},
	StProcessing:       {"Przetwarzane w KSeF (od najstarszych):", "Processing at KSeF (oldest first):"},
	StProcessingLine:   {"przetwarzana w KSeF od %s (sesja %s)", "processing at KSeF since %s (session %s)"},
	StAvailability:     {"dostępność KSeF", "KSeF availability"},
	StAvailNoDaemon:    {"nieznana (żaden działający proces nie obserwuje serwisu statusowego KSeF)", "unknown (no running daemon is watching KSeF's status service)"},
	StAvailUnknown:     {"nieznana (brak jeszcze wiadomości od KSeF i jego serwisu statusowego)", "unknown (nothing heard from KSeF or its status service yet)"},
	StAvailAvailable:   {"dostępny", "available"},
	StAvailUnannounced: {"NIEDOSTĘPNY, bez ogłoszonej awarii", "unavailable, not announced"},
	StAvailMaintenance: {"ogłoszona przerwa techniczna", "maintenance announced"},
	StAvailFailure:     {"ogłoszona awaria", "failure announced"},
	StAvailTotal:       {"ogłoszona awaria całkowita", "total-failure announced"},
	StAvailOther:       {"ogłoszony stan %s", "%s announced"},
	StAvailSince:       {" od %s (czas warszawski)", " since %s (Warsaw)"},
	StAvailStatusError: {"; serwis statusowy: %s", "; status service: %s"},
	StNoUPO:            {"Wysłane BEZ UPO (KSeF go nie wydał; powód podaje upoMissing w .ksef.json):", "Sent WITHOUT a UPO (KSeF would not give it; upoMissing in .ksef.json says why):"},
	StNoUPOLine:        {"przyjęta jako %s, bez UPO (%s)", "accepted as %s, no UPO (%s)"},
	StOffline:          {"Faktury offline jeszcze nie w KSeF (%d, od najbliższego terminu):", "Offline invoices not yet in KSeF (%d, earliest deadline first):"},
	StOfflineLine:      {"wystawiona %s  %s  wyślij do %s  (%s)", "issued %s  %s  send by %s  (%s)"},
	StCursors:          {"Kursory pobierania:", "Pull cursors:"},
	StNoneYet:          {"(jeszcze brak)", "(none yet)"},
	StRejections:       {"Ostatnie odrzucenia (od najnowszych):", "Last rejections (newest first):"},
	StNoneListed:       {"(brak)", "(none)"},
	StNoJournal:        {"brak dziennika w %s: proces w tle jeszcze nie działał", "no journal in %s yet: the daemon has not run"},

	PgTitle:        {"stan ksef-sync", "ksef-sync status"},
	PgLocalTime:    {"czas lokalny", "local time"},
	PgAvailability: {"dostępność KSeF", "availability"},
	PgInvoices:     {"faktury", "invoices"},
	PgAccepted:     {"%d przyjętych", "%d accepted"},
	PgRejected:     {"%d odrzuconych", "%d rejected"},
	PgInProgress:   {"%d w toku", "%d in progress"},
	PgToday:        {"dziś", "today"},
	PgTodayCounts:  {"%d przyjętych, %d odrzuconych", "%d accepted, %d rejected"},
	PgExpires:      {"ważne do", "expire"},
	PgQueue:        {"Kolejka", "Queue"},
	PgCursors:      {"Kursory pobierania", "Pull cursors"},
	PgNoUPO:        {"Wysłane bez UPO", "Sent without a UPO"},
	PgAcceptedAs:   {"przyjęta jako", "accepted as"},
	PgNoUPOWhy:     {"KSeF nie wydał jej UPO (zarejestrowało ją inne narzędzie).", "KSeF would not give its UPO (another tool registered it)."},
	PgWhy:          {"dlaczego:", "why:"},
	PgOffline:      {"Faktury wystawione offline, jeszcze nie w KSeF (%d, od najbliższego terminu)", "Offline invoices not yet in KSeF (%d, earliest deadline first)"},
	PgSendBy:       {"wyślij do", "send by"},
	PgRejections:   {"Ostatnie odrzucenia", "Latest rejections"},
	PgDetails:      {"szczegóły:", "details:"},
	PgRefresh:      {"Odświeżana co %d s", "Refreshes every %d s"},
	PgMetrics:      {"metryki", "metrics"},
	PgHealth:       {"kontrola stanu", "health"},
}
