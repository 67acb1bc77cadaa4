package com.example.shop;

import java.io.Serializable;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;

// The handler behind a serialized dynamic proxy.
public class FixedHandler implements InvocationHandler, Serializable {
    private static final long serialVersionUID = 3L;
    private final String answer;

    public FixedHandler(String answer) {
        this.answer = answer;
    }

    public Object invoke(Object proxy, Method method, Object[] args) {
        return answer;
    }
}
