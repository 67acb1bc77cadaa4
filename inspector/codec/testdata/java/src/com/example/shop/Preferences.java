package com.example.shop;

import java.io.Externalizable;
import java.io.IOException;
import java.io.ObjectInput;
import java.io.ObjectOutput;

// An Externalizable class: its bytes are whatever writeExternal wrote.
public class Preferences implements Externalizable {
    private static final long serialVersionUID = 2L;
    private String theme = "dark";
    private int fontSize = 14;

    public Preferences() {
    }

    public void writeExternal(ObjectOutput out) throws IOException {
        out.writeUTF(theme);
        out.writeInt(fontSize);
    }

    public void readExternal(ObjectInput in) throws IOException {
        theme = in.readUTF();
        fontSize = in.readInt();
    }
}
