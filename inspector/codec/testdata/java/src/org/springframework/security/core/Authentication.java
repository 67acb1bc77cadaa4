package org.springframework.security.core;

import java.io.Serializable;
import java.util.Collection;

public interface Authentication extends Serializable {
    Collection<GrantedAuthority> getAuthorities();
    Object getPrincipal();
    boolean isAuthenticated();
}
