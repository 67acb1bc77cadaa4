package com.example.shop;

import java.io.Serializable;

// Two Nodes pointing at each other make a cycle.
public class Node implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String name;
    private Node next;

    public Node(String name) {
        this.name = name;
    }

    public void setNext(Node next) {
        this.next = next;
    }
}
