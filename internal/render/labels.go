package render

// labels are the fixed texts of a rendered document, one set per language. Wording follows the
// official KSeF visualisation (CIRFMF/ksef-pdf-generator) so bookkeepers find what they expect.
type labels struct {
	system, invoiceNo, ksefNo, page, of, generated                          string
	kindVAT, kindKOR, kindZAL, kindROZ, kindUPR, kindKORZAL, kindKORROZ     string
	seller, buyer, third, nip, vatUE, otherID, noID, internalID, address    string
	corrAddress, email, phone, customerNo, buyerID, role, share, eori       string
	details, issueDate, issuePlace, saleDate, period, currency, rate        string
	wz, corrected, corrReason, corrType, corrInvNo, corrInvDate, corrKSeF   string
	corrOutside, corrPeriod, lines, lp, name, qty, unit, netPrice, grossPr  string
	netValue, grossValue, vatRate, before, discount, orderTitle, orderValue string
	summary, net, vat, vatPLN, gross, total, totalDue, advanceReceived      string
	annotations, cash, selfBilling, reverse, splitPay, exempt, exemptBasis  string
	newTransport, triangular, margin, marginTravel, marginUsed, marginArt   string
	marginAntique, extra, key, value, rowNo, settlement, charges, deducts   string
	toPay, toSettle, payment, paid, paidOn, partPaid, dueDate, method       string
	account, factorAccount, swift, bank, skonto, payLink, terms, orders     string
	contracts, batches, delivery, agreedRate, footer, registers, krs        string
	regon, bdo, fullName, attachment, attBlocks, attTables, qr1, qr2, cert  string
	offline, verify, advanceInvoices, exciseRefund, fp, tp                  string
	upoTitle, upoEntity, upoSession, upoContext, upoAuthHash, upoStructure  string
	upoForm, upoSellerNIP, upoIssue, upoSent, upoAssigned, upoHash, upoMode string
	upoDocs, upoPage, upoRange                                              string
	carrier, transportOrder, shipFrom, shipTo                               string
	yes, no                                                                 string
	methods                                                                 map[string]string
	roles                                                                   map[string]string
	rates                                                                   map[string]string
}

var polishLabels = labels{
	system: "Krajowy System e-Faktur (KSeF)", invoiceNo: "Numer faktury", ksefNo: "Numer KSeF",
	page: "Strona", of: "z", generated: "Wizualizacja wygenerowana przez ksef-sync",
	kindVAT: "Faktura podstawowa", kindKOR: "Faktura korygująca", kindZAL: "Faktura zaliczkowa",
	kindROZ: "Faktura rozliczeniowa", kindUPR: "Faktura uproszczona",
	kindKORZAL: "Faktura korygująca fakturę zaliczkową", kindKORROZ: "Faktura korygująca fakturę rozliczeniową",
	seller: "Sprzedawca", buyer: "Nabywca", third: "Podmiot trzeci", nip: "NIP", vatUE: "Numer VAT-UE",
	otherID: "Identyfikator podatkowy", noID: "Brak identyfikatora", internalID: "Identyfikator wewnętrzny",
	address: "Adres", corrAddress: "Adres korespondencyjny", email: "E-mail", phone: "Tel.",
	customerNo: "Numer klienta", buyerID: "Identyfikator nabywcy", role: "Rola", share: "Udział", eori: "Numer EORI",
	details: "Szczegóły", issueDate: "Data wystawienia", issuePlace: "Miejsce wystawienia",
	saleDate: "Data dokonania lub zakończenia dostawy towarów lub wykonania usługi",
	period:   "Okres, którego dotyczy faktura", currency: "Waluta", rate: "Kurs waluty",
	wz: "Numery dokumentów WZ", corrected: "Dane faktury korygowanej", corrReason: "Przyczyna korekty",
	corrType: "Typ skutku korekty", corrInvNo: "Numer faktury korygowanej", corrInvDate: "Data wystawienia faktury korygowanej",
	corrKSeF: "Numer KSeF faktury korygowanej", corrOutside: "faktura wystawiona poza KSeF",
	corrPeriod: "Okres, którego dotyczy rabat", lines: "Pozycje", lp: "Lp.", name: "Nazwa towaru lub usługi",
	qty: "Ilość", unit: "Miara", netPrice: "Cena jedn. netto", grossPr: "Cena jedn. brutto", netValue: "Wartość netto",
	grossValue: "Wartość brutto", vatRate: "Stawka", before: "stan przed korektą", discount: "Rabat",
	orderTitle: "Zamówienie lub umowa (faktura zaliczkowa)", orderValue: "Wartość zamówienia lub umowy z podatkiem",
	summary: "Podsumowanie stawek podatku", net: "Kwota netto", vat: "Kwota podatku", vatPLN: "Kwota podatku w PLN",
	gross: "Kwota brutto", total: "Kwota należności ogółem", totalDue: "Razem do zapłaty",
	advanceReceived: "Otrzymana kwota zapłaty (zaliczki)",
	annotations:     "Adnotacje", cash: "Metoda kasowa", selfBilling: "Samofakturowanie", reverse: "Odwrotne obciążenie",
	splitPay: "Mechanizm podzielonej płatności", exempt: "Dostawa towarów lub świadczenie usług zwolnionych od podatku",
	exemptBasis: "Podstawa zwolnienia", newTransport: "Wewnątrzwspólnotowa dostawa nowych środków transportu",
	triangular: "Procedura uproszczona w transakcji trójstronnej", margin: "Procedura marży",
	marginTravel: "biura podróży", marginUsed: "towary używane", marginArt: "dzieła sztuki",
	marginAntique: "przedmioty kolekcjonerskie i antyki", extra: "Dodatkowe informacje", key: "Rodzaj informacji",
	value: "Treść informacji", rowNo: "Wiersz", settlement: "Rozliczenie", charges: "Obciążenia", deducts: "Odliczenia",
	toPay: "Do zapłaty", toSettle: "Do rozliczenia", payment: "Płatność", paid: "Zapłacono", paidOn: "Data zapłaty",
	partPaid: "Zapłata częściowa", dueDate: "Termin płatności", method: "Forma płatności", account: "Numer rachunku bankowego",
	factorAccount: "Rachunek bankowy faktora", swift: "SWIFT", bank: "Bank", skonto: "Skonto", payLink: "Link do płatności",
	terms: "Warunki transakcji", orders: "Zamówienia", contracts: "Umowy", batches: "Numery partii towaru",
	delivery: "Warunki dostawy", agreedRate: "Kurs umowny", footer: "Stopka faktury", registers: "Rejestry",
	krs: "KRS", regon: "REGON", bdo: "BDO", fullName: "Pełna nazwa", attachment: "Załącznik do faktury",
	attBlocks: "bloków danych", attTables: "tabel", qr1: "Sprawdź, czy Twoja faktura znajduje się w KSeF",
	qr2: "Zweryfikuj wystawcę faktury", cert: "CERTYFIKAT", offline: "OFFLINE", verify: "Link weryfikacyjny",
	advanceInvoices: "Faktury zaliczkowe", exciseRefund: "Zwrot akcyzy zawartej w cenie oleju napędowego",
	fp: "Faktura, o której mowa w art. 109 ust. 3d ustawy", tp: "Istniejące powiązania między nabywcą a dokonującym dostawy",
	upoTitle: "Urzędowe poświadczenie odbioru dokumentu elektronicznego (UPO)", upoEntity: "Podmiot przyjmujący",
	upoSession: "Numer referencyjny sesji", upoContext: "Identyfikator kontekstu", upoAuthHash: "Skrót dokumentu uwierzytelniającego",
	upoStructure: "Nazwa struktury logicznej", upoForm: "Kod formularza", upoSellerNIP: "NIP sprzedawcy",
	upoIssue: "Data wystawienia faktury", upoSent: "Data przesłania dokumentu", upoAssigned: "Data nadania numeru KSeF",
	upoHash: "Skrót dokumentu (SHA-256)", upoMode: "Tryb wysyłki", upoDocs: "Dokumenty", upoPage: "Strona UPO",
	upoRange: "Zakres dokumentów", carrier: "Przewoźnik", transportOrder: "Numer zlecenia transportu",
	shipFrom: "Wysyłka z", shipTo: "Wysyłka do",
	yes: "tak", no: "nie",
	methods: map[string]string{"1": "gotówka", "2": "karta", "3": "bon", "4": "czek", "5": "kredyt", "6": "przelew", "7": "mobilna"},
	roles: map[string]string{"1": "Faktor", "2": "Odbiorca", "3": "Podmiot pierwotny", "4": "Dodatkowy nabywca",
		"5": "Wystawca faktury", "6": "Dokonujący płatności", "7": "JST - wystawca", "8": "JST - odbiorca",
		"9": "Członek grupy VAT - wystawca", "10": "Członek grupy VAT - odbiorca", "11": "Pracownik"},
	rates: map[string]string{"zw": "zw", "oo": "oo", "np I": "np I", "np II": "np II",
		"0 KR": "0% kraj", "0 WDT": "0% WDT", "0 EX": "0% eksport"},
}

var englishLabels = labels{
	system: "National e-Invoice System (KSeF)", invoiceNo: "Invoice number", ksefNo: "KSeF number",
	page: "Page", of: "of", generated: "Visualisation generated by ksef-sync",
	kindVAT: "Standard invoice", kindKOR: "Corrective invoice", kindZAL: "Advance invoice",
	kindROZ: "Settlement invoice", kindUPR: "Simplified invoice",
	kindKORZAL: "Corrective advance invoice", kindKORROZ: "Corrective settlement invoice",
	seller: "Seller", buyer: "Buyer", third: "Third party", nip: "NIP", vatUE: "VAT-EU number",
	otherID: "Tax ID", noID: "No identifier", internalID: "Internal ID",
	address: "Address", corrAddress: "Correspondence address", email: "E-mail", phone: "Phone",
	customerNo: "Customer number", buyerID: "Buyer ID", role: "Role", share: "Share", eori: "EORI number",
	details: "Details", issueDate: "Issue date", issuePlace: "Place of issue",
	saleDate: "Date of delivery or service completion",
	period:   "Period the invoice covers", currency: "Currency", rate: "Exchange rate",
	wz: "Delivery note (WZ) numbers", corrected: "Corrected invoice data", corrReason: "Reason for correction",
	corrType: "Type of correction effect", corrInvNo: "Corrected invoice number", corrInvDate: "Issue date of the corrected invoice",
	corrKSeF: "KSeF number of the corrected invoice", corrOutside: "invoice issued outside KSeF",
	corrPeriod: "Discount period", lines: "Items", lp: "No.", name: "Product or service name",
	qty: "Quantity", unit: "Unit", netPrice: "Net unit price", grossPr: "Gross unit price", netValue: "Net value",
	grossValue: "Gross value", vatRate: "Rate", before: "state before correction", discount: "Discount",
	orderTitle: "Order or contract (advance invoice)", orderValue: "Order or contract value including tax",
	summary: "Tax rate summary", net: "Net amount", vat: "Tax amount", vatPLN: "Tax amount in PLN",
	gross: "Gross amount", total: "Total amount due", totalDue: "Total to pay",
	advanceReceived: "Advance payment received",
	annotations:     "Annotations", cash: "Cash accounting", selfBilling: "Self-billing", reverse: "Reverse charge",
	splitPay: "Split payment mechanism", exempt: "Supply of goods or services exempt from tax",
	exemptBasis: "Basis for exemption", newTransport: "Intra-Community supply of new means of transport",
	triangular: "Simplified triangular procedure", margin: "Margin scheme",
	marginTravel: "travel agencies", marginUsed: "used goods", marginArt: "works of art",
	marginAntique: "collectibles and antiques", extra: "Additional information", key: "Type of information",
	value: "Information content", rowNo: "Row", settlement: "Settlement", charges: "Charges", deducts: "Deductions",
	toPay: "To pay", toSettle: "To settle", payment: "Payment", paid: "Paid", paidOn: "Payment date",
	partPaid: "Partial payment", dueDate: "Due date", method: "Payment method", account: "Bank account number",
	factorAccount: "Factor's bank account", swift: "SWIFT", bank: "Bank", skonto: "Cash discount", payLink: "Payment link",
	terms: "Transaction terms", orders: "Orders", contracts: "Contracts", batches: "Batch numbers",
	delivery: "Delivery terms", agreedRate: "Agreed exchange rate", footer: "Invoice footer", registers: "Registers",
	krs: "KRS", regon: "REGON", bdo: "BDO", fullName: "Full name", attachment: "Invoice attachment",
	attBlocks: "data blocks", attTables: "tables", qr1: "Check whether your invoice is in KSeF",
	qr2: "Verify the invoice issuer", cert: "CERTIFICATE", offline: "OFFLINE", verify: "Verification link",
	advanceInvoices: "Advance invoices", exciseRefund: "Refund of excise tax included in the price of diesel fuel",
	fp: "Invoice referred to in Article 109(3d) of the Act", tp: "Existing relationships between the buyer and the supplier",
	upoTitle: "Official acknowledgement of receipt (UPO)", upoEntity: "Receiving entity",
	upoSession: "Session reference number", upoContext: "Context identifier", upoAuthHash: "Hash of the authentication document",
	upoStructure: "Logical structure", upoForm: "Form code", upoSellerNIP: "Seller NIP",
	upoIssue: "Invoice issue date", upoSent: "Date the document was sent", upoAssigned: "Date the KSeF number was assigned",
	upoHash: "Document hash (SHA-256)", upoMode: "Sending mode", upoDocs: "Documents", upoPage: "UPO page",
	upoRange: "Range of documents", carrier: "Carrier", transportOrder: "Transport order number",
	shipFrom: "Shipped from", shipTo: "Shipped to",
	yes: "yes", no: "no",
	methods: map[string]string{"1": "cash", "2": "card", "3": "voucher", "4": "cheque", "5": "credit", "6": "bank transfer", "7": "mobile"},
	roles: map[string]string{"1": "Factor", "2": "Recipient", "3": "Original entity", "4": "Additional buyer",
		"5": "Invoice issuer", "6": "Payer", "7": "Local government unit - issuer", "8": "Local government unit - recipient",
		"9": "VAT group member - issuer", "10": "VAT group member - recipient", "11": "Employee"},
	rates: map[string]string{"zw": "exempt (zw)", "oo": "reverse charge (oo)", "np I": "np I", "np II": "np II",
		"0 KR": "0% domestic", "0 WDT": "0% WDT", "0 EX": "0% export"},
}

// rateLabel shows a P_12 value: numbers get a percent sign, codes their reading.
func (lb *labels) rateLabel(p12 string) string {
	if p12 == "" {
		return ""
	}
	if r, ok := lb.rates[p12]; ok {
		return r
	}
	if allDigits(p12) {
		return p12 + "%"
	}
	return p12
}
