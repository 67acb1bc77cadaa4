package inspector

// ClearExchanges empties the exchange log behind the Requests screen and the flow
// view, and returns how many exchanges it held. Imported HARs keep theirs; findings
// that name a cleared exchange say it is no longer kept, as for one that aged out.
func (in *Inspector) ClearExchanges() int { return in.exchanges.clear() }

// ClearFindings forgets every finding and returns how many there were. A cause that
// occurs again afterwards is reported as a new finding.
func (in *Inspector) ClearFindings() int { return in.rules.Clear() }
