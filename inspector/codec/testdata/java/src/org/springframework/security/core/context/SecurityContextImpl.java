package org.springframework.security.core.context;

import java.io.Serializable;
import org.springframework.security.core.Authentication;

// Shaped like Spring Security 6's SecurityContextImpl, the value of the
// SPRING_SECURITY_CONTEXT session attribute.
public class SecurityContextImpl implements Serializable {
    private static final long serialVersionUID = 620L;
    private Authentication authentication;

    public SecurityContextImpl(Authentication authentication) {
        this.authentication = authentication;
    }
}
