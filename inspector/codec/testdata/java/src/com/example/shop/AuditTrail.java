package com.example.shop;

import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.Serializable;

// A class whose writeObject adds its own data after its fields: primitives
// (block data) and an object.
public class AuditTrail implements Serializable {
    private static final long serialVersionUID = 7L;
    private final String owner;
    private final transient String lastEvent;

    public AuditTrail(String owner, String lastEvent) {
        this.owner = owner;
        this.lastEvent = lastEvent;
    }

    private void writeObject(ObjectOutputStream out) throws IOException {
        out.defaultWriteObject();
        out.writeInt(3);
        out.writeUTF(lastEvent);
        out.writeObject(Status.SUSPENDED);
        out.writeLong(-1L);
    }
}
