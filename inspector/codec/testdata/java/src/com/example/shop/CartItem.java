package com.example.shop;

import java.io.Serializable;

// A plain Serializable class: every primitive type code, and an enum field.
public class CartItem implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String sku;
    private final int qty;
    private final long priceCents;
    private final double weightKg;
    private final float discount;
    private final short shelf;
    private final byte aisle;
    private final char grade;
    private final boolean gift;
    private final Status status;

    public CartItem(String sku, int qty, long priceCents) {
        this.sku = sku;
        this.qty = qty;
        this.priceCents = priceCents;
        this.weightKg = 0.25;
        this.discount = 0.5f;
        this.shelf = -3;
        this.aisle = 7;
        this.grade = 'é';
        this.gift = true;
        this.status = Status.ACTIVE;
    }
}
