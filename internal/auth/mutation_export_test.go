package auth

// MaxCached is the bound of the memory of verified credentials.
const MaxCached = maxCached

// Remember remembers a verified credential of login, as a successful login does.
func Remember(a *Authenticator, login string) { a.remember(login, cachedCred{}) }

// Remembered is how many logins are remembered.
func Remembered(a *Authenticator) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.cache)
}
