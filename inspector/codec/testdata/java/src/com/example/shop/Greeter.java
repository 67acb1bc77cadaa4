package com.example.shop;

public interface Greeter {
    String greet();
}
