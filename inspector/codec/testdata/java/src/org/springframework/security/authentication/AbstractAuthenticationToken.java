package org.springframework.security.authentication;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.GrantedAuthority;

// Shaped like Spring Security 6's AbstractAuthenticationToken: the superclass
// whose fields (authorities, details, authenticated) come first in the stream.
public abstract class AbstractAuthenticationToken implements Authentication {
    private final Collection<GrantedAuthority> authorities;
    private Object details;
    private boolean authenticated = false;

    public AbstractAuthenticationToken(Collection<? extends GrantedAuthority> authorities) {
        this.authorities = Collections.unmodifiableList(new ArrayList<>(authorities));
    }

    public Collection<GrantedAuthority> getAuthorities() {
        return authorities;
    }

    public void setDetails(Object details) {
        this.details = details;
    }

    public boolean isAuthenticated() {
        return authenticated;
    }

    public void setAuthenticated(boolean authenticated) {
        this.authenticated = authenticated;
    }
}
