package com.example.shop;

public enum Status {
    ACTIVE, SUSPENDED
}
