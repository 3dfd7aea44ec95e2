package reports

// ParseGoMod exposes parseGoMod to the tests.
var ParseGoMod = parseGoMod
